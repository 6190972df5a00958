// Exercise 02.4: the posterior q(x_{t-1} | x_t, x_0), its mean coefficients and variance beta_tilde.
#include "02_forward_noising/posterior.hpp"

#include "02_forward_noising/forward.hpp"
#include "dm/todo.hpp"

namespace dm::ch02 {

// ANCHOR: make_posterior
Posterior make_posterior(const Schedule& s) {
  // alpha_bar one step before t for every t (1 before step 0); then the three [T] tensors of lesson 02, section 4
  DM_TODO("02.4");
}
// ANCHOR_END: make_posterior

// ANCHOR: posterior_mean
torch::Tensor posterior_mean(const Posterior& p, const torch::Tensor& x0, const torch::Tensor& xt,
                             const torch::Tensor& t) {
  // one coefficient per example, via extract()
  DM_TODO("02.4");
}
// ANCHOR_END: posterior_mean

}  // namespace dm::ch02
