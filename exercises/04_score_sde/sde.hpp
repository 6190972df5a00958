// The continuous-time VP-SDE of Song et al. (2021) and the score of its marginals (chapter 04).
//
//   forward:  dx = f(x, t) dt + g(t) dW,   f(x, t) = -1/2 beta(t) x,   g(t)^2 = beta(t),   t in [0, 1]
//   beta(t) = beta_min + t (beta_max - beta_min)  (chapter 01's VP-SDE)
//
// Its marginal is chapter 02's closed form with a continuous alpha_bar:
//   x_t = sqrt(alpha_bar(t)) x_0 + sqrt(1 - alpha_bar(t)) eps,   alpha_bar(t) = exp(-int_0^t beta),
// the limit of prod (1 - beta_i) for T -> infinity steps with beta_i = beta(t_i) / T.
// With beta_max = 20, alpha_bar(1) = 4.3e-5: x_1 is N(0, I) up to a shift of 0.03 for the ring data.
#pragma once

#include <cmath>
#include <functional>

#include <torch/types.h>

#include "dm/data/toy2d.hpp"

namespace dm::ch04 {

// ANCHOR: vp_sde
struct VpSde {
  double beta_min = 0.1;  // beta(0)
  double beta_max = 20;   // beta(1)
  double beta(double t) const { return beta_min + t * (beta_max - beta_min); }
  // int_0^t beta(u) du
  double int_beta(double t) const { return beta_min * t + 0.5 * (beta_max - beta_min) * t * t; }
  double alpha_bar(double t) const { return std::exp(-int_beta(t)); }
  // sqrt(1 - alpha_bar(t)), accurate for small t
  double sigma(double t) const { return std::sqrt(-std::expm1(-int_beta(t))); }
  // alpha_bar of every entry of t (any shape, any float dtype)
  torch::Tensor alpha_bar(const torch::Tensor& t) const {
    return torch::exp(-(beta_min * t + 0.5 * (beta_max - beta_min) * t * t));
  }
};
// ANCHOR_END: vp_sde

// A score model: s(x, t) ~ grad_x log p_t(x) for a batch x [n, 2] at one time t.
using ScoreFn = std::function<torch::Tensor(const torch::Tensor& x, double t)>;

// ANCHOR: exact_score
// The exact score of the noised mixture: p_t is again a Gaussian mixture (toy2d.hpp), so
// grad log p_t is known in closed form. Returns x's dtype.
inline ScoreFn exact_score(const GaussianMixture2D& gm, const VpSde& sde) {
  return [gm, sde](const torch::Tensor& x, double t) { return gm.noised(sde.alpha_bar(t)).score(x); };
}
// ANCHOR_END: exact_score

}  // namespace dm::ch04
