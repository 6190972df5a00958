// Exercise 06.4: the loss of joint conditional/unconditional training (Ho & Salimans 2022, Algorithm 1).
#include "06_guidance/guidance.hpp"
#include "dm/todo.hpp"

namespace dm::ch06 {

// ANCHOR: cfg_loss
torch::Tensor cfg_loss(const CfgLossParts& parts, const Schedule& s, const torch::Tensor& x0, const torch::Tensor& y,
                       const torch::Tensor& t, const torch::Tensor& eps, double p_uncond, std::int64_t num_classes) {
  TORCH_CHECK(y.dim() == 1 && y.size(0) == x0.size(0), "cfg_loss: y must be [B] = [", x0.size(0), "], got ", y.sizes());
  DM_TODO("06.4");
}
// ANCHOR_END: cfg_loss

}  // namespace dm::ch06
