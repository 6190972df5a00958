// Exercise 03.8: the ELBO's KL terms, and their weights on the noise-prediction error.
#include "03_ddpm/elbo.hpp"

#include "dm/todo.hpp"

namespace dm::ch03 {

// ANCHOR: gaussian_kl
torch::Tensor gaussian_kl(const torch::Tensor& mu_q, const torch::Tensor& var_q, const torch::Tensor& mu_p,
                          const torch::Tensor& var_p) {
  TORCH_CHECK(mu_q.sizes() == var_q.sizes() && mu_q.sizes() == mu_p.sizes() && mu_q.sizes() == var_p.sizes(),
              "gaussian_kl: the four tensors need one shape, got ", mu_q.sizes(), ", ", var_q.sizes(), ", ",
              mu_p.sizes(), ", ", var_p.sizes());
  // BEGIN SOLUTION 03.8
  auto vq = var_q.to(torch::kFloat64), vp = var_p.to(torch::kFloat64);
  auto d = (mu_q.to(torch::kFloat64) - mu_p.to(torch::kFloat64));
  return (0.5 * (torch::log(vp / vq) + (vq + d * d) / vp - 1)).to(mu_q.scalar_type());
  // END SOLUTION
}
// ANCHOR_END: gaussian_kl

// ANCHOR: elbo_weights
torch::Tensor elbo_weights(const Schedule& s, Variance variance) {
  const auto T = s.T();
  TORCH_CHECK(T >= 2, "elbo_weights: the schedule needs T >= 2, got ", T);
  // BEGIN SOLUTION 03.8
  auto ab_prev = torch::cat({torch::ones({1}, torch::kFloat64), s.alpha_bar.slice(0, 0, T - 1)});  // [T]
  auto sigma2 = variance == Variance::Beta ? s.beta.clone() : (1 - ab_prev) / (1 - s.alpha_bar) * s.beta;
  // mu_tilde - mu_theta = beta_t / (sqrt(alpha_t) sqrt(1 - alpha_bar_t)) (eps_theta - eps), over 2 sigma_t^2
  auto lambda = s.beta.pow(2) / (2 * sigma2 * s.alpha * (1 - s.alpha_bar));
  lambda[0] = 0.0;  // L_0 is the decoder's term
  return lambda;
  // END SOLUTION
}
// ANCHOR_END: elbo_weights

}  // namespace dm::ch03
