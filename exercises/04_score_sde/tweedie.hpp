// Tweedie's formula: the best denoiser is one score step away from x_t (chapter 04).
//
// For x_t = a x_0 + s eps (a = sqrt(alpha_bar), s = sqrt(1 - alpha_bar)) and ANY law of x_0, the
// posterior mean E[x_0 | x_t] is determined by x_t and the score grad log p_t(x_t) alone
// (lesson 04, "3. Tweedie's formula"). On the Gaussian mixture both sides are analytic, so the
// formula can be checked exactly.
#pragma once

#include <torch/types.h>

#include "dm/data/toy2d.hpp"

namespace dm::ch04 {

// ---- 04.2 Tweedie's formula, and E[x_0 | x_t] of the mixture by Bayes ------------------------------
// Tweedie's denoiser: E[x_0 | x_t] from the score.
//   xt         [n, d] noisy samples
//   score      [n, d] grad log p_t at xt (exact or learned)
//   alpha_bar  in (0, 1]
//   returns    [n, d] E[x_0 | x_t] by Tweedie's formula, xt's dtype
torch::Tensor tweedie_x0(const torch::Tensor& xt, const torch::Tensor& score, double alpha_bar);

// E[x_0 | x_t] for x_0 ~ sum_k w_k N(mu_k, s_k^2 I), straight from Bayes' rule, no score involved:
//   r_k(x_t)  = P(component k | x_t), the responsibilities under the noised mixture p_t
//               (lesson 04, "1. A continuous-time forward process", gives p_t)
//   m_k(x_t)  = E[x_0 | x_t, k], the Gaussian conditional mean within component k
//               (lesson 04, "3. Tweedie's formula")
//   result    = the r-weighted average of the m_k
//   gm         the clean mixture (float64 tensors)
//   xt         [n, 2] float32 or float64
//   returns    [n, 2] in xt's dtype (compute in float64)
torch::Tensor mixture_posterior_mean(const GaussianMixture2D& gm, const torch::Tensor& xt, double alpha_bar);

}  // namespace dm::ch04
