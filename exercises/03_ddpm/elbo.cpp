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
  DM_TODO("03.8");
}
// ANCHOR_END: gaussian_kl

// ANCHOR: elbo_weights
torch::Tensor elbo_weights(const Schedule& s, Variance variance) {
  const auto T = s.T();
  TORCH_CHECK(T >= 2, "elbo_weights: the schedule needs T >= 2, got ", T);
  DM_TODO("03.8");
}
// ANCHOR_END: elbo_weights

}  // namespace dm::ch03
