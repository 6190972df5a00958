// Exercise 06.3: the guided prediction of a conditional network, both passes in one batch.
#include "06_guidance/guidance.hpp"
#include "dm/todo.hpp"

namespace dm::ch06 {

GuidanceParts exercise_parts() {
  GuidanceParts p;
  p.null_label = null_label;
  p.combine = cfg_combine;
  return p;
}

// ANCHOR: guided_eps
torch::Tensor guided_eps(const GuidanceParts& parts, const CondEpsModel& eps_theta, const torch::Tensor& x_t,
                         const torch::Tensor& t, const torch::Tensor& y, double strength, Convention convention,
                         std::int64_t num_classes) {
  TORCH_CHECK(x_t.dim() >= 1 && t.dim() == 1 && y.dim() == 1 && t.size(0) == x_t.size(0) && y.size(0) == x_t.size(0),
              "guided_eps: x_t [B, ...], t [B] and y [B] must agree on B, got ", x_t.sizes(), ", ", t.sizes(), ", ",
              y.sizes());
  DM_TODO("06.3");
}
// ANCHOR_END: guided_eps

}  // namespace dm::ch06
