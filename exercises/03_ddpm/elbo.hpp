// The variational bound of DDPM, term by term (lesson 03, "1. The reverse process and its bound"): the
// KL divergence of two Gaussians that every term L_{t-1} is, and the weights that turn those terms into
// the noise-prediction errors that L_simple then weighs equally.
#pragma once

#include <torch/types.h>

#include "03_ddpm/ddpm.hpp"

namespace dm::ch03 {

// ---- 03.8 the ELBO's terms as weighted noise-prediction errors ------------------------------------------
// KL(N(mu_q, var_q) || N(mu_p, var_p)) of two one-dimensional Gaussians, element by element, in nats:
// the divergence of the first from the second (not symmetric).
//   mu_q, var_q, mu_p, var_p   tensors of one shape, variances > 0, float32 or float64
//   returns                    that shape, the dtype of mu_q; >= 0, and 0 only where the two agree
torch::Tensor gaussian_kl(const torch::Tensor& mu_q, const torch::Tensor& var_q, const torch::Tensor& mu_p,
                          const torch::Tensor& var_p);

// With p_theta(x_{t-1} | x_t) Gaussian, its mean written through the predicted noise eps_theta (03.3)
// and its variance sigma_t^2 chosen by `variance`, each term L_{t-1} of the bound, per element, is
//   L_{t-1} = KL( q(x_{t-1} | x_t, x_0) || p_theta(x_{t-1} | x_t) ) = C_t + lambda_t (eps - eps_theta)^2,
// where eps is the noise that made x_t from x_0 and C_t does not depend on the network. Returns lambda.
//   s          the schedule ([T] float64)
//   variance   sigma_t^2 = beta_t or beta_tilde_t
//   returns    [T] float64, indexed by t = 0..T-1; lambda[0] = 0: the term at t = 0 is the decoder
//              L_0, not a KL of two Gaussians
torch::Tensor elbo_weights(const Schedule& s, Variance variance);

}  // namespace dm::ch03
