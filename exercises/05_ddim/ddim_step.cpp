// Exercise 05.2: the generalised DDIM step with eta in [0, 1].
#include <algorithm>
#include <cmath>

#include "05_ddim/ddim.hpp"
#include "dm/todo.hpp"

namespace dm::ch05 {

// ANCHOR: ddim_sigma
double ddim_sigma(double alpha_bar_t, double alpha_bar_prev, double eta) {
  // eta times the posterior's standard deviation across the jump (derive it: lesson 05, section 3)
  DM_TODO("05.2");
}
// ANCHOR_END: ddim_sigma

// ANCHOR: predict_x0
torch::Tensor predict_x0(const torch::Tensor& x_t, const torch::Tensor& eps, double alpha_bar_t) {
  // the closed form of q(x_t | x_0), read backwards: which x_0 goes with this x_t and eps?
  DM_TODO("05.2");
}
// ANCHOR_END: predict_x0

// ANCHOR: ddim_step
DdimStep ddim_step(const torch::Tensor& x_t, const torch::Tensor& eps, double alpha_bar_t, double alpha_bar_prev,
                   double eta, const torch::Tensor& z) {
  // sigma from ddim_sigma, x0_hat from predict_x0, then the three terms of x_prev (z only if sigma > 0)
  DM_TODO("05.2");
}
// ANCHOR_END: ddim_step

}  // namespace dm::ch05
