// Exercise 06.4: the loss of joint conditional/unconditional training (Ho & Salimans 2022, Algorithm 1).
#include "06_guidance/guidance.hpp"
#include "dm/todo.hpp"

namespace dm::ch06 {

// ANCHOR: cfg_loss
torch::Tensor cfg_loss(const CfgLossParts& parts, const Schedule& s, const torch::Tensor& x0, const torch::Tensor& y,
                       const torch::Tensor& t, const torch::Tensor& eps, double p_uncond, std::int64_t num_classes) {
  TORCH_CHECK(y.dim() == 1 && y.size(0) == x0.size(0), "cfg_loss: y must be [B] = [", x0.size(0), "], got ", y.sizes());
  // BEGIN SOLUTION 06.4
  const auto u = parts.uniforms(x0.size(0));                         // one draw per image
  const auto y_in = parts.drop_labels(y, u, p_uncond, num_classes);  // some become "no label"
  const dm::ch03::EpsModel eps_theta = [&](const torch::Tensor& x_t, const torch::Tensor& tt) {
    return parts.eps_theta(x_t, tt, y_in);  // the same labels for the whole batch
  };
  return parts.loss(s, eps_theta, x0, t, eps);  // L_simple, as in chapter 03
  // END SOLUTION
}
// ANCHOR_END: cfg_loss

}  // namespace dm::ch06
