// The forward posterior q(x_{t-1} | x_t, x_0): what the reverse process learns to imitate.
//
// Given the data x_0 and a noisy x_t, the sample one step earlier is Gaussian again, with a mean
// linear in x_0 and x_t and a variance that depends on t only:
//   q(x_{t-1} | x_t, x_0) = N( coef_x0[t] x_0 + coef_xt[t] x_t ,  beta_tilde[t] I )
// Lesson 02, "4. The posterior $q(x_{t-1} \mid x_t, x_0)$ by completing the square", derives the
// three coefficients. Indices as in schedule.hpp (t = 0..T-1, as in diffusers); t = 0 has no noisy
// predecessor (alpha_bar before the first step is 1): variance 0, coefficient 1 on x_0, 0 on x_t.
// With the linear schedule, beta_tilde[487] = 0.00979, diffusers' published value.
#pragma once

#include <torch/types.h>

#include "02_forward_noising/schedule.hpp"

namespace dm::ch02 {

// ANCHOR: posterior_struct
struct Posterior {
  torch::Tensor coef_x0;   // [T] float64, weight of x_0 in the posterior mean
  torch::Tensor coef_xt;   // [T] float64, weight of x_t in the posterior mean
  torch::Tensor variance;  // [T] float64, beta_tilde; variance[0] = 0
};
// ANCHOR_END: posterior_struct

// ---- 02.4 posterior mean coefficients and variance beta_tilde --------------------------------------
//   s         the schedule ([T] float64)
//   returns   the three [T] float64 tensors above, indexed by t = 0..T-1
Posterior make_posterior(const Schedule& s);

// The posterior mean mu_tilde(x_t, x_0) of every example, from p's coefficients at its own t.
//   p         from make_posterior
//   x0, xt    [B, ...] same shape, float32 or float64
//   t         [B] int64, 0..T-1
//   returns   [B, ...] shape and dtype of xt
torch::Tensor posterior_mean(const Posterior& p, const torch::Tensor& x0, const torch::Tensor& xt,
                             const torch::Tensor& t);

}  // namespace dm::ch02
