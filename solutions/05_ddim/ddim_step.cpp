// Exercise 05.2: the generalised DDIM step with eta in [0, 1].
#include <algorithm>
#include <cmath>

#include "05_ddim/ddim.hpp"
#include "dm/todo.hpp"

namespace dm::ch05 {

// ANCHOR: ddim_sigma
double ddim_sigma(double alpha_bar_t, double alpha_bar_prev, double eta) {
  // BEGIN SOLUTION 05.2
  // sigma(eta) = eta sqrt((1 - ab_prev) / (1 - ab_t)) sqrt(1 - ab_t / ab_prev)   (DDIM eq. 16)
  return eta * std::sqrt((1 - alpha_bar_prev) / (1 - alpha_bar_t)) * std::sqrt(1 - alpha_bar_t / alpha_bar_prev);
  // BEGIN STUB
  // // eta times the posterior's standard deviation across the jump (derive it: lesson 05, section 3)
  // DM_TODO("05.2");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: ddim_sigma

// ANCHOR: predict_x0
torch::Tensor predict_x0(const torch::Tensor& x_t, const torch::Tensor& eps, double alpha_bar_t) {
  // BEGIN SOLUTION 05.2
  // x_t = sqrt(ab) x_0 + sqrt(1 - ab) eps, solved for x_0
  return (x_t - std::sqrt(1 - alpha_bar_t) * eps) / std::sqrt(alpha_bar_t);
  // BEGIN STUB
  // // the closed form of q(x_t | x_0), read backwards: which x_0 goes with this x_t and eps?
  // DM_TODO("05.2");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: predict_x0

// ANCHOR: ddim_step
DdimStep ddim_step(const torch::Tensor& x_t, const torch::Tensor& eps, double alpha_bar_t, double alpha_bar_prev,
                   double eta, const torch::Tensor& z) {
  // BEGIN SOLUTION 05.2
  const double sigma = ddim_sigma(alpha_bar_t, alpha_bar_prev, eta);
  auto x0_hat = predict_x0(x_t, eps, alpha_bar_t);
  // "direction pointing to x_t": the noise variance left after sigma^2 is spent on fresh noise
  const double dir = std::sqrt(std::max(0.0, 1 - alpha_bar_prev - sigma * sigma));
  auto x_prev = std::sqrt(alpha_bar_prev) * x0_hat + dir * eps;
  if (sigma > 0) {
    TORCH_CHECK(z.defined(), "ddim_step: eta > 0 needs the noise z");
    x_prev = x_prev + sigma * z;
  }
  return {x_prev, x0_hat};
  // BEGIN STUB
  // // sigma from ddim_sigma, x0_hat from predict_x0, then the three terms of x_prev (z only if sigma > 0)
  // DM_TODO("05.2");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: ddim_step

}  // namespace dm::ch05
