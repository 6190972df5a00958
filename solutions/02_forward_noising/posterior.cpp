// Exercise 02.4: the posterior q(x_{t-1} | x_t, x_0), its mean coefficients and variance beta_tilde.
#include "02_forward_noising/posterior.hpp"

#include "02_forward_noising/forward.hpp"
#include "dm/todo.hpp"

namespace dm::ch02 {

// ANCHOR: make_posterior
Posterior make_posterior(const Schedule& s) {
  // BEGIN SOLUTION 02.4
  // alpha_bar_prev[t] = alpha_bar[t-1], and 1 before the first step
  auto alpha_bar_prev = torch::cat({torch::ones({1}, s.alpha_bar.options()), s.alpha_bar.slice(0, 0, -1)});  // [T]
  auto one_minus_ab = 1 - s.alpha_bar;                                                                       // [T]
  return Posterior{
      alpha_bar_prev.sqrt() * s.beta / one_minus_ab,         // coef_x0
      s.alpha.sqrt() * (1 - alpha_bar_prev) / one_minus_ab,  // coef_xt
      (1 - alpha_bar_prev) / one_minus_ab * s.beta,          // beta_tilde
  };
  // BEGIN STUB
  // // alpha_bar one step before t for every t (1 before step 0); then the three [T] tensors of lesson 02, section 4
  // DM_TODO("02.4");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: make_posterior

// ANCHOR: posterior_mean
torch::Tensor posterior_mean(const Posterior& p, const torch::Tensor& x0, const torch::Tensor& xt,
                             const torch::Tensor& t) {
  // BEGIN SOLUTION 02.4
  return extract(p.coef_x0, t, xt) * x0 + extract(p.coef_xt, t, xt) * xt;
  // BEGIN STUB
  // // one coefficient per example, via extract()
  // DM_TODO("02.4");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: posterior_mean

}  // namespace dm::ch02
