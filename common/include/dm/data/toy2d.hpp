// Synthetic 2-D data sets. The Gaussian mixture has an analytic density and
// score, also after forward noising, so samplers and learned scores can be
// checked against the truth.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace dm {

// p(x) = sum_k w_k N(x; mu_k, s_k^2 I) in 2-D.
struct GaussianMixture2D {
  torch::Tensor weights;  // [K], sums to 1, float64
  torch::Tensor means;    // [K, 2], float64
  torch::Tensor stds;     // [K], isotropic standard deviations, float64

  // The course's standard example: 8 components on a circle of radius 4, s = 0.3,
  // unequal weights (so mode weights are testable).
  static GaussianMixture2D ring8();

  torch::Tensor sample(std::int64_t n, torch::Generator gen = {}) const;  // [n, 2] float32
  torch::Tensor log_prob(const torch::Tensor& x) const;                   // [n]
  torch::Tensor score(const torch::Tensor& x) const;                      // [n, 2] = grad log p
  // The law of x_t = sqrt(ab) x_0 + sqrt(1 - ab) eps: again a mixture, with
  // means sqrt(ab) mu_k and variances ab s_k^2 + (1 - ab).
  GaussianMixture2D noised(double alpha_bar) const;
};

torch::Tensor two_moons(std::int64_t n, double noise = 0.05, torch::Generator gen = {});  // [n, 2]
torch::Tensor swiss_roll(std::int64_t n, double noise = 0.1, torch::Generator gen = {});  // [n, 2]
torch::Tensor checkerboard(std::int64_t n, torch::Generator gen = {});                    // [n, 2]

}  // namespace dm
