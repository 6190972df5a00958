// Exercise 03.3: one ancestral reverse step (Algorithm 2 of Ho et al. 2020).
#include <cmath>

#include "03_ddpm/ddpm.hpp"
#include "dm/todo.hpp"

namespace dm::ch03 {

// ANCHOR: p_sample
ReverseStep p_sample(const Schedule& s, const torch::Tensor& x_t, std::int64_t t, const torch::Tensor& eps,
                     const torch::Tensor& z, Variance variance, bool clip_x0) {
  TORCH_CHECK(t >= 0 && t < s.T(), "p_sample: t = ", t, " is outside 0..", s.T() - 1);
  // BEGIN SOLUTION 03.3
  // scalars of step t, in double
  const double beta = s.beta[t].item<double>();
  const double alpha = 1.0 - beta;
  const double ab = s.alpha_bar[t].item<double>();
  const double ab_prev = t > 0 ? s.alpha_bar[t - 1].item<double>() : 1.0;
  const double beta_tilde = (1.0 - ab_prev) / (1.0 - ab) * beta;
  const double sigma = std::sqrt(variance == Variance::Beta ? beta : beta_tilde);

  auto x0_hat = (x_t - std::sqrt(1.0 - ab) * eps) / std::sqrt(ab);
  torch::Tensor mean;
  if (clip_x0) {
    x0_hat = x0_hat.clamp(-1.0, 1.0);
    const double coef_x0 = std::sqrt(ab_prev) * beta / (1.0 - ab);
    const double coef_xt = std::sqrt(alpha) * (1.0 - ab_prev) / (1.0 - ab);
    mean = coef_x0 * x0_hat + coef_xt * x_t;
  } else {
    mean = (x_t - beta / std::sqrt(1.0 - ab) * eps) / std::sqrt(alpha);
  }
  auto x_prev = t > 0 ? mean + sigma * z : mean;
  return {x_prev, x0_hat};
  // BEGIN STUB
  // // read beta_t, alpha_bar_t and alpha_bar_{t-1} (1 at t = 0) as doubles: s.beta[t].item<double>()
  // DM_TODO("03.3");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: p_sample

}  // namespace dm::ch03
