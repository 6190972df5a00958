// Exercise 06.5: classifier guidance in eps units, and the classifier that two predictions imply.
#include <cmath>

#include "06_guidance/guidance.hpp"
#include "dm/todo.hpp"

namespace dm::ch06 {

// ANCHOR: classifier_guided_eps
torch::Tensor classifier_guided_eps(const torch::Tensor& eps, const torch::Tensor& grad_log_p_y, double alpha_bar_t,
                                    double scale) {
  TORCH_CHECK(eps.sizes() == grad_log_p_y.sizes(), "classifier_guided_eps: eps ", eps.sizes(), " and the gradient ",
              grad_log_p_y.sizes(), " differ in shape");
  TORCH_CHECK(alpha_bar_t > 0 && alpha_bar_t < 1, "classifier_guided_eps: alpha_bar_t must be in (0, 1), got ",
              alpha_bar_t);
  // BEGIN SOLUTION 06.5
  // score = -eps / sqrt(1 - ab); the guided score adds s grad log p(y | x_t); back to eps units
  return eps - scale * std::sqrt(1 - alpha_bar_t) * grad_log_p_y;
  // END SOLUTION
}
// ANCHOR_END: classifier_guided_eps

// ANCHOR: implicit_classifier_grad
torch::Tensor implicit_classifier_grad(const torch::Tensor& eps_cond, const torch::Tensor& eps_uncond,
                                       double alpha_bar_t) {
  TORCH_CHECK(eps_cond.sizes() == eps_uncond.sizes(), "implicit_classifier_grad: the two predictions differ in shape");
  TORCH_CHECK(alpha_bar_t > 0 && alpha_bar_t < 1, "implicit_classifier_grad: alpha_bar_t must be in (0, 1), got ",
              alpha_bar_t);
  // BEGIN SOLUTION 06.5
  // grad log p(y | x_t) = grad log p(x_t | y) - grad log p(x_t), each score = -eps / sqrt(1 - ab)
  return -(eps_cond - eps_uncond) / std::sqrt(1 - alpha_bar_t);
  // END SOLUTION
}
// ANCHOR_END: implicit_classifier_grad

}  // namespace dm::ch06
