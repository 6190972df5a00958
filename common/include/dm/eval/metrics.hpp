// Sample-quality metrics on feature vectors (Eigen only, no torch): the
// statistics a Fréchet distance compares (FID when the features come from a
// classifier; the distance itself is chapter 03's exercise 03.5, passed in as
// a FrechetFn), the kernel inception distance (KID) and k-NN precision/recall.
//
// Feature matrices are [N, D]: one sample per row, in double precision.
// Every metric comes with a bootstrap interval over the samples (the section
// "Intervals" at the end of this header).
// The Evaluator (dm/eval/evaluator.hpp) computes the features with the
// course's Fashion-MNIST classifier and calls these functions.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

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

// ---------------------------------------------------------------- intervals
//
// Each metric above is a statistic of n samples: another n samples of the same
// model give another value. Its interval comes from the bootstrap over the
// samples (Efron & Tibshirani 1993): draw the n rows of the sample set again,
// with replacement, recompute the metric, and repeat B times. The reference
// set (the 10k test images) stays fixed: the question is how much the number
// moves with the model's samples, not with the test set.
//
// A resample is given by its counts: counts[i] copies of row i, summing to n
// (every metric below computes what all resamples share once, then each
// resample cheaply). Counts make duplicates explicit: a row drawn twice is one
// point of weight 2, never its own neighbour at distance 0 (precision/recall)
// and never a pair of the "distinct samples" an unbiased KID averages over.
// Two paired sets (same n, row i of both from the same initial noise) are
// resampled with the same counts, so a difference keeps its pairing.

// A confidence interval [lo, hi].
struct Interval {
  double lo = 0;
  double hi = 0;
  bool contains(double v) const { return lo <= v && v <= hi; }
  double width() const { return hi - lo; }
};

// A metric's value on the sample set itself and its interval.
struct Estimate {
  double value = 0;
  Interval ci;
};

// counts[i]: copies of row i in one resample.
using Counts = std::vector<std::uint32_t>;

struct BootstrapOptions {
  int resamples = 200;     // B: enough for the 2.5 and 97.5 percentiles to move by well under the interval's width
  double level = 0.95;     // central coverage of the interval
  std::uint64_t seed = 0;  // std::mt19937_64 seed: the same seed and n give the same resamples (paired sets)
};

// `resamples` resamples of n rows, drawn with std::mt19937_64(seed) (our own uniform draw, identical on
// every platform). n >= 1, resamples >= 2 (dm::UserError otherwise).
std::vector<Counts> bootstrap_counts(std::int64_t n, int resamples, std::uint64_t seed);

// A metric of one sample set as a function of a resample; all ones gives the metric of the set itself.
using ResampledMetric = std::function<double(const Counts&)>;

// The interval from the replicates theta*_b of an estimate theta: the (1 - level) / 2 and (1 + level) / 2
// percentiles of theta*_b (linear interpolation between order statistics), shifted by theta - mean(theta*_b).
// Why shifted: FID is biased upwards at finite n, and a resample (about 63 % distinct rows) is biased
// once more, so the plain percentile interval of the floor lies entirely above the floor itself. The
// shift removes the resamples' extra bias (their mean minus the estimate) and keeps the spread and skew
// of the replicates: the interval says where the metric at this n lands for another n samples, which is
// what comparisons at equal n (a model against its floor, two samplers) need. For unbiased metrics
// (KID, precision) the shift is close to 0.
Interval bootstrap_interval(std::vector<double> replicates, double estimate, double level = 0.95);

// metric on the set (all ones) and its interval from the given resamples.
Estimate bootstrap(const ResampledMetric& metric, const std::vector<Counts>& resamples, double level = 0.95);
// metric_a - metric_b of two paired sets of equal n, each resample applied to both (the same rows of
// both sets): the paired bootstrap. A set paired with itself gives exactly [0, 0].
Estimate paired_bootstrap(const ResampledMetric& metric_a, const ResampledMetric& metric_b,
                          const std::vector<Counts>& resamples, double level = 0.95);

// The metrics above as functions of a resample of the samples x (rows), the reference fixed.
// FID of x [n, D] against the reference statistics: the resample's weighted mean and unbiased covariance.
ResampledMetric fid_resampled(const FrechetFn& f, const Eigen::MatrixXd& x, const GaussianStats& reference);
// KID of x [n, D] against y with the subsets of kid() (same arguments, same value on all ones). A
// resample keeps kid()'s subsets of x and of y; within a subset its rows get their counts as weights,
// and the within-set term averages k over pairs of copies of *different* rows only (the unbiased
// estimator's rule, extended to duplicates). Cost: the kernels of kid(), once; O(subsets * m^2) per resample.
ResampledMetric kid_resampled(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y, int subsets = 10,
                              int subset_size = 1000, std::uint64_t seed = 0);
// Precision of fake [n, D] on a fixed real manifold (points, radii from kth_neighbour_radii): the weighted
// fraction of fake rows inside it.
ResampledMetric precision_resampled(const Eigen::MatrixXd& fake, const Eigen::MatrixXd& real,
                                    const Eigen::VectorXd& real_radii);
// Recall of a fixed real set [Nr, D] on the manifold of a resample of fake [n, D] (k as in precision_recall).
// A fake row's radius is the distance at which the copies of the *other* rows around it reach k (its own
// copies are skipped: a duplicated point is not its own neighbour at distance 0, which would shrink its
// ball to a point); rows with no copy are not in the manifold. All distances are computed once on the
// original rows: each fake row keeps its 32 nearest other rows, and each real row the fake rows whose
// largest possible ball can reach it; a resample then costs O(n * 32 + Nr * candidates). (If the copies
// of the 32 nearest rows do not reach k, that row's radius is computed from all distances.)
ResampledMetric recall_resampled(const Eigen::MatrixXd& real, const Eigen::MatrixXd& fake, int k = 3);

// Convenience: each metric and its interval, resampling x (or fake) with options.resamples resamples.
Estimate fid_with_interval(const FrechetFn& f, const Eigen::MatrixXd& x, const GaussianStats& reference,
                           const BootstrapOptions& options = {});
Estimate kid_with_interval(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y, int subsets = 10, int subset_size = 1000,
                           std::uint64_t kid_seed = 0, const BootstrapOptions& options = {});
struct PrecisionRecallEstimate {
  Estimate precision;
  Estimate recall;
};
PrecisionRecallEstimate precision_recall_with_intervals(const Eigen::MatrixXd& real, const Eigen::MatrixXd& fake,
                                                        int k = 3, const BootstrapOptions& options = {});
// FID(a) - FID(b) for paired sample sets a, b [n, D] (row i of both from the same initial noise) with its
// paired bootstrap interval. Different row counts are a dm::UserError.
Estimate paired_fid_difference(const FrechetFn& f, const Eigen::MatrixXd& a, const Eigen::MatrixXd& b,
                               const GaussianStats& reference, const BootstrapOptions& options = {});

}  // namespace dm::eval
