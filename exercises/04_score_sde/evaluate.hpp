// How far a cloud of 2-D samples is from the mixture (chapter 04).
//   sliced Wasserstein   the mean over directions u of W_1 between the 1-D projections u.x:
//                        in 1-D, W_1 is the mean gap between sorted samples. Sees everything
//                        (positions, spreads, weights), but two finite samples of the SAME law
//                        are not at 0: compare with that floor.
//   mode weights         the fraction of samples nearest to each component mean, against w_k
//                        (the share of a component's mass closer to another mean is ~1e-20 for
//                        the ring: means 3.06 apart, s = 0.3)
#pragma once

#include <cstdint>

#include <torch/types.h>

namespace dm::ch04 {

// a, b [n, 2] (same n); `directions` evenly spaced angles in [0, pi). Deterministic.
double sliced_wasserstein(const torch::Tensor& a, const torch::Tensor& b, std::int64_t directions = 64);

// [K] float64: the fraction of x [n, 2] whose nearest mean (means [K, 2]) is k.
torch::Tensor mode_weights(const torch::Tensor& x, const torch::Tensor& means);

// The fraction of x farther than `radius` from every mean (samples between modes).
double off_mode_fraction(const torch::Tensor& x, const torch::Tensor& means, double radius);

// Total variation between two weight vectors: 1/2 sum |p - q|.
double total_variation(const torch::Tensor& p, const torch::Tensor& q);

}  // namespace dm::ch04
