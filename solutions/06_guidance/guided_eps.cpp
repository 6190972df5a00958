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
  // BEGIN SOLUTION 06.3
  const auto B = x_t.size(0);
  const auto none = torch::full_like(y, parts.null_label(num_classes));                     // [B] "no label"
  auto eps = eps_theta(torch::cat({x_t, x_t}), torch::cat({t, t}), torch::cat({y, none}));  // [2B, ...]
  return parts.combine(eps.slice(0, 0, B), eps.slice(0, B, 2 * B), strength, convention);   // first half: y
  // END SOLUTION
}
// ANCHOR_END: guided_eps

}  // namespace dm::ch06
