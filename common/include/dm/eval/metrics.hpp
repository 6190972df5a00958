// Sample-quality metrics on feature vectors (Eigen only, no torch): the
// statistics a Fréchet distance compares (FID when the features come from a
// classifier; the distance itself is chapter 03's exercise 03.5, passed in as
// a FrechetFn), the kernel inception distance (KID) and k-NN precision/recall.
//
// Feature matrices are [N, D]: one sample per row, in double precision.
// The Evaluator (dm/eval/evaluator.hpp) computes the features with the
// course's Fashion-MNIST classifier and calls these functions.
#pragma once

#include <cstdint>
#include <functional>

#include <Eigen/Dense>

namespace dm::eval {

// Mean and covariance of a set of feature vectors.
//   mu    [D]     sample mean
//   sigma [D, D]  unbiased sample covariance (divides by N - 1, like numpy.cov
//                 and the reference FID code)
//   n     number of rows the statistics came from (printed next to every FID)
struct GaussianStats {
  Eigen::VectorXd mu;
  Eigen::MatrixXd sigma;
  std::int64_t n = 0;
};

// Statistics of features [N, D] (rows are samples). N >= 2, else dm::UserError.
GaussianStats gaussian_stats(const Eigen::MatrixXd& features);

// The Fréchet (2-Wasserstein) distance of N(mu1, s1) and N(mu2, s2), called as f(mu1, s1, mu2, s2):
// chapter 03's exercise 03.5 (dm::ch03::frechet_distance). The library has none of its own.
using FrechetFn = std::function<double(const Eigen::VectorXd& mu1, const Eigen::MatrixXd& s1,
                                       const Eigen::VectorXd& mu2, const Eigen::MatrixXd& s2)>;

// f(a, b) for two statistics of one dimension (dm::UserError otherwise); round-off below 0 is clamped.
double frechet_distance(const FrechetFn& f, const GaussianStats& a, const GaussianStats& b);

// Kernel inception distance (Bińkowski et al. 2018, "Demystifying MMD GANs"):
// the unbiased estimator of the squared maximum mean discrepancy MMD^2 with the
// cubic polynomial kernel k(x, y) = (x . y / d + 1)^3, d the feature dimension,
// averaged over `subsets` random subsets of `subset_size` rows drawn without
// replacement from each of x [Nx, D] and y [Ny, D] (subset_size is capped at
// min(Nx, Ny)). Draws use std::mt19937_64 seeded with `seed`, so the value is
// reproducible.
//
// Unlike FID, the estimator is unbiased: its expectation is 0 when x and y come
// from the same distribution (single values may be slightly negative), which
// makes it comparable across sample sizes. Requires subset_size >= 2.
double kid(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y, int subsets = 10, int subset_size = 1000,
           std::uint64_t seed = 0);

// Improved precision and recall (Kynkäänniemi et al. 2019). Each set defines a
// manifold: the union of balls around its points whose radius is the distance
// to the point's k-th nearest neighbour within the same set (excluding itself).
//   precision: fraction of fake points inside the real manifold (quality)
//   recall:    fraction of real points inside the fake manifold (coverage)
// Both in [0, 1]. Identical sets give 1 / 1. Use sets of equal size: the radii
// shrink as the set grows. Needs more than k rows in each set (dm::UserError).
// Cost O((Nr + Nf)^2 D): fine for 10k x 128 features.
struct PrecisionRecall {
  double precision = 0;
  double recall = 0;
};
PrecisionRecall precision_recall(const Eigen::MatrixXd& real, const Eigen::MatrixXd& fake, int k = 3);

// Distance from each row of `points` [N, D] to its k-th nearest neighbour
// among the other rows (the radii precision_recall uses). k < N.
Eigen::VectorXd kth_neighbour_radii(const Eigen::MatrixXd& points, int k);

// Fraction of rows of `queries` that lie within radius[j] of some row j of
// `points` (distance <= radius, as in the reference implementation).
double fraction_inside(const Eigen::MatrixXd& queries, const Eigen::MatrixXd& points, const Eigen::VectorXd& radii);

}  // namespace dm::eval
