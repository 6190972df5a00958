// The intervals of the course's evaluation (dm/eval/metrics.hpp, "intervals"): bootstrap resamples as
// counts, deterministic for a seed; each resampled metric equal to the metric itself on the resample of
// all ones; intervals that contain their estimate, shrink like 1/sqrt(n) and cover a known FID; a paired
// difference of a set with itself exactly [0, 0]; duplicates handled (a row drawn twice is not its own
// k-NN neighbour, and its two copies are not a pair of KID's within-set term). Features are plain
// Gaussians; the Fréchet distance of 1-d features is the closed form (mu1 - mu2)^2 + (s1 - s2)^2 (the
// lesson's commuting case), so no test here needs chapter 03's exercise or the classifier.
// Run one test: build/default/bin/test_common --gtest_filter='Bootstrap.*'
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include <Eigen/Dense>

#include "dm/errors.hpp"
#include "dm/eval/metrics.hpp"
#include "normal_rows.hpp"

using dm::eval::Counts;
using dm::eval::GaussianStats;

namespace {

using dm::testing::normal_rows;

// The Fréchet distance of two 1-d Gaussians (variances s1, s2): exact for 1-d features only.
double frechet_1d(const Eigen::VectorXd& m1, const Eigen::MatrixXd& s1, const Eigen::VectorXd& m2,
                  const Eigen::MatrixXd& s2) {
  EXPECT_EQ(m1.size(), 1) << "frechet_1d is the closed form for one feature";
  const double ds = std::sqrt(s1(0, 0)) - std::sqrt(s2(0, 0));
  return (m1 - m2).squaredNorm() + ds * ds;
}

// The exact statistics of N(0, 1) in one dimension: the reference of the 1-d tests.
GaussianStats standard_normal_1d() {
  return GaussianStats{Eigen::VectorXd::Zero(1), Eigen::MatrixXd::Identity(1, 1), 0};
}

dm::eval::BootstrapOptions options(int resamples, std::uint64_t seed = 0) {
  dm::eval::BootstrapOptions o;
  o.resamples = resamples;
  o.seed = seed;
  return o;
}

// A stand-in Fréchet distance for D > 1: the squared distance of the means plus that of the diagonals'
// square roots (not FID for correlated features, but a smooth, biased statistic of the same kind).
double frechet_diagonal(const Eigen::VectorXd& m1, const Eigen::MatrixXd& s1, const Eigen::VectorXd& m2,
                        const Eigen::MatrixXd& s2) {
  const Eigen::ArrayXd d = s1.diagonal().array().sqrt() - s2.diagonal().array().sqrt();
  return (m1 - m2).squaredNorm() + d.square().sum();
}

}  // namespace

TEST(Bootstrap, CountsAreDeterministicForASeedAndSumToN) {
  const auto a = dm::eval::bootstrap_counts(50, 20, 7), b = dm::eval::bootstrap_counts(50, 20, 7);
  const auto c = dm::eval::bootstrap_counts(50, 20, 8);
  ASSERT_EQ(a.size(), 20u);
  EXPECT_EQ(a, b) << "the same seed must give the same resamples";
  EXPECT_NE(a, c) << "another seed must give other resamples";
  for (const auto& r : a) {
    ASSERT_EQ(r.size(), 50u);
    std::uint64_t total = 0;
    for (auto v : r) total += v;
    EXPECT_EQ(total, 50u) << "a resample holds n rows";
  }
  EXPECT_THROW(dm::eval::bootstrap_counts(0, 20, 0), dm::UserError);
  EXPECT_THROW(dm::eval::bootstrap_counts(10, 1, 0), dm::UserError);
}

TEST(Bootstrap, IntervalsAreDeterministicForASeed) {
  const Eigen::MatrixXd x = normal_rows(200, 1, 1, 0.5);
  const auto a = dm::eval::fid_with_interval(frechet_1d, x, standard_normal_1d(), options(50, 3));
  const auto b = dm::eval::fid_with_interval(frechet_1d, x, standard_normal_1d(), options(50, 3));
  const auto c = dm::eval::fid_with_interval(frechet_1d, x, standard_normal_1d(), options(50, 4));
  EXPECT_EQ(a.ci.lo, b.ci.lo);
  EXPECT_EQ(a.ci.hi, b.ci.hi);
  EXPECT_NE(a.ci.lo, c.ci.lo) << "the seed must matter";
  EXPECT_EQ(a.value, c.value) << "the estimate does not depend on the resamples";
}

TEST(Bootstrap, PercentilesAreShiftedOntoTheEstimate) {
  // Replicates 1..101 (mean 51): percentiles 3.5 and 98.5, shifted by estimate - mean = -41.
  std::vector<double> reps;
  for (int i = 1; i <= 101; ++i) reps.push_back(i);
  const auto ci = dm::eval::bootstrap_interval(reps, 10.0, 0.95);
  EXPECT_DOUBLE_EQ(ci.lo, 3.5 - 41.0);
  EXPECT_DOUBLE_EQ(ci.hi, 98.5 - 41.0);
  EXPECT_THROW(dm::eval::bootstrap_interval({1.0}, 1.0), dm::UserError);
  EXPECT_THROW(dm::eval::bootstrap_interval({1.0, NAN}, 1.0), dm::UserError);
}

TEST(Bootstrap, ResampledMetricsOfAllOnesAreTheMetricsThemselves) {
  const Eigen::MatrixXd x = normal_rows(300, 4, 2, 0.3), y = normal_rows(1500, 4, 3);
  const Counts ones(300, 1);
  const auto ref = dm::eval::gaussian_stats(y);
  EXPECT_NEAR(dm::eval::fid_resampled(frechet_diagonal, x, ref)(ones),
              dm::eval::frechet_distance(frechet_diagonal, dm::eval::gaussian_stats(x), ref), 1e-12);
  // KID: all rows in every subset (n <= subset size), and subsets of 100 of the 300 rows.
  EXPECT_NEAR(dm::eval::kid_resampled(x, y, 4, 1000, 5)(ones), dm::eval::kid(x, y, 4, 1000, 5), 1e-12);
  EXPECT_NEAR(dm::eval::kid_resampled(x, y, 4, 100, 5)(ones), dm::eval::kid(x, y, 4, 100, 5), 1e-12);
  const Eigen::MatrixXd real = y.topRows(300);
  const auto pr = dm::eval::precision_recall(real, x, 3);
  EXPECT_DOUBLE_EQ(dm::eval::precision_resampled(x, real, dm::eval::kth_neighbour_radii(real, 3))(ones), pr.precision);
  EXPECT_DOUBLE_EQ(dm::eval::recall_resampled(real, x, 3)(ones), pr.recall);
}

TEST(Bootstrap, IntervalsContainTheirEstimates) {
  const Eigen::MatrixXd x = normal_rows(300, 4, 4, 0.3, 1.2), y = normal_rows(2000, 4, 5);
  const auto o = options(100, 6);
  const auto fid = dm::eval::fid_with_interval(frechet_diagonal, x, dm::eval::gaussian_stats(y), o);
  const auto kid = dm::eval::kid_with_interval(x, y, 3, 1000, 0, o);
  const auto pr = dm::eval::precision_recall_with_intervals(y.topRows(300), x, 3, o);
  for (const auto& [name, e] : {std::pair{"FID", fid}, std::pair{"KID", kid}, std::pair{"precision", pr.precision},
                                std::pair{"recall", pr.recall}}) {
    EXPECT_TRUE(e.ci.contains(e.value)) << name << " " << e.value << " outside [" << e.ci.lo << ", " << e.ci.hi << "]";
    EXPECT_GT(e.ci.width(), 0.0) << name << ": 300 noisy samples must give a non-degenerate interval";
  }
  EXPECT_GT(kid.value, 0.0);
  EXPECT_GT(kid.ci.lo, 0.0) << "a shift of 0.3 sd and a spread 1.2x at n = 300 is a clearly positive KID";
}

TEST(Bootstrap, PairedDifferenceOfASetWithItselfIsExactlyZero) {
  const Eigen::MatrixXd x = normal_rows(150, 3, 7, 0.2);
  const auto ref = dm::eval::gaussian_stats(normal_rows(500, 3, 8));
  const auto d = dm::eval::paired_fid_difference(frechet_diagonal, x, x, ref, options(50));
  EXPECT_EQ(d.value, 0.0);
  EXPECT_EQ(d.ci.lo, 0.0);
  EXPECT_EQ(d.ci.hi, 0.0);
  const auto k = dm::eval::kid_resampled(x, normal_rows(500, 3, 9), 2, 100, 0);
  const auto dk = dm::eval::paired_bootstrap(k, k, dm::eval::bootstrap_counts(150, 50, 1));
  EXPECT_EQ(dk.ci.lo, 0.0);
  EXPECT_EQ(dk.ci.hi, 0.0);
  EXPECT_THROW(dm::eval::paired_fid_difference(frechet_diagonal, x, x.topRows(100), ref), dm::UserError)
      << "sets of different size cannot be paired";
}

TEST(Bootstrap, PairedIntervalOfAShiftIsNarrowerThanTheUnpairedOnes) {
  // b = a + 0.1: the same rows shifted. FID(b) - FID(a) has little noise of its own once the rows are
  // paired; the two unpaired intervals are each much wider than the paired one.
  const Eigen::MatrixXd a = normal_rows(400, 1, 10, 1.0);
  const Eigen::MatrixXd b = a.array() + 0.1;
  const auto ref = standard_normal_1d();
  const auto o = options(200, 2);
  const auto d = dm::eval::paired_fid_difference(frechet_1d, b, a, ref, o);
  const auto fa = dm::eval::fid_with_interval(frechet_1d, a, ref, o);
  EXPECT_TRUE(d.ci.contains(d.value));
  EXPECT_GT(d.ci.lo, 0.0) << "the shift away from the reference must be a significant increase";
  EXPECT_LT(d.ci.width(), 0.5 * fa.ci.width());
}

TEST(Bootstrap, IntervalWidthHalvesWhenNQuadruples) {
  // 1-d features N(1, 1) against N(0, 1): FID ~ (mean)^2 has sd ~ 2 / sqrt(n).
  const auto ref = standard_normal_1d();
  double w[2];
  int i = 0;
  for (Eigen::Index n : {250, 1000}) {
    w[i++] = dm::eval::fid_with_interval(frechet_1d, normal_rows(n, 1, 11 + n, 1.0), ref, options(200, 1)).ci.width();
  }
  const double ratio = w[0] / w[1];
  EXPECT_GT(ratio, 1.4) << "widths " << w[0] << " at n = 250 and " << w[1] << " at n = 1000";
  EXPECT_LT(ratio, 2.8) << "widths " << w[0] << " at n = 250 and " << w[1] << " at n = 1000";
}

TEST(Bootstrap, FidIntervalCoversTheKnownFidInMostSeeds) {
  // x ~ N(0.5, 1.5^2) in 1-d against the exact N(0, 1): FID = 0.5^2 + (1.5 - 1)^2 = 0.5.
  const double truth = 0.5;
  int covered = 0;
  const int seeds = 12;
  for (int s = 0; s < seeds; ++s) {
    const auto e = dm::eval::fid_with_interval(frechet_1d, normal_rows(400, 1, 100 + s, 0.5, 1.5), standard_normal_1d(),
                                               options(200, s));
    covered += e.ci.contains(truth) ? 1 : 0;
  }
  EXPECT_GE(covered, 9) << "a 95 % interval covered the true FID in only " << covered << " of " << seeds << " seeds";
}

TEST(Bootstrap, RecallSkipsCopiesOfThePointItself) {
  // Fake rows 0, 10, 30 (1-d), k = 1; the resample holds row 0 twice, row 10 once, row 30 not at all.
  // Row 0's ball reaches its nearest *other* row, 10 (radius 10), so the real point -5 is covered, the
  // real point 100 is not: recall 1/2. Gathering the rows instead (0, 0, 10) makes 0 its own neighbour at
  // distance 0: its ball shrinks to a point and -5 is lost (recall 0).
  Eigen::MatrixXd fake(3, 1), real(2, 1);
  fake << 0, 10, 30;
  real << -5, 100;
  const Counts c = {2, 1, 0};
  EXPECT_DOUBLE_EQ(dm::eval::recall_resampled(real, fake, 1)(c), 0.5);
  Eigen::MatrixXd gathered(3, 1);
  gathered << 0, 0, 10;
  EXPECT_DOUBLE_EQ(dm::eval::precision_recall(real, gathered, 1).recall, 0.0) << "the pitfall the counts avoid";
  // Copies of other rows count towards k: with k = 2, row 10's ball reaches the two copies of row 0
  // (radius 10). Row 0 finds only one copy of another row (row 10): fewer than k exist, so its ball
  // reaches the farthest of them (radius 10). Covered: -5 (by row 0) and 15 (by row 10), not 100.
  Eigen::MatrixXd real3(3, 1);
  real3 << -5, 15, 100;
  EXPECT_DOUBLE_EQ(dm::eval::recall_resampled(real3, fake, 2)(c), 2.0 / 3.0);
}

TEST(Bootstrap, RecallReplicatesAreNotBiasedDownByDuplicates) {
  // The naive bootstrap (gather rows, then compute recall) gives duplicated rows zero-radius balls and
  // loses coverage; the counts keep the replicates' mean near the estimate.
  const Eigen::MatrixXd real = normal_rows(300, 3, 20), fake = normal_rows(300, 3, 21);
  const auto metric = dm::eval::recall_resampled(real, fake, 3);
  const auto resamples = dm::eval::bootstrap_counts(300, 40, 5);
  const double estimate = metric(Counts(300, 1));
  double ours = 0, naive = 0;
  for (const auto& c : resamples) {
    ours += metric(c) / 40.0;
    Eigen::MatrixXd gathered(300, 3);
    Eigen::Index row = 0;
    for (std::size_t i = 0; i < c.size(); ++i)
      for (std::uint32_t k = 0; k < c[i]; ++k) gathered.row(row++) = fake.row(static_cast<Eigen::Index>(i));
    naive += dm::eval::precision_recall(real, gathered, 3).recall / 40.0;
  }
  EXPECT_LT(naive, ours - 0.03) << "naive " << naive << ", counts " << ours << ", estimate " << estimate;
  EXPECT_LT(ours, 1.0) << "a resample never covers everything trivially";
  EXPECT_NEAR(ours, estimate, 0.1) << "replicates of recall far from the estimate " << estimate;
}

TEST(Bootstrap, KidWithinSetTermSkipsPairsOfCopies) {
  // x: 3 rows, y: 3 rows, one subset of all of them; the resample holds row 0 twice and row 1 once.
  // Its pairs of copies of different rows are all (row 0, row 1): the within-x term is k(x0, x1).
  const Eigen::MatrixXd x = normal_rows(3, 2, 30), y = normal_rows(3, 2, 31);
  auto k = [](const Eigen::RowVectorXd& a, const Eigen::RowVectorXd& b) { return std::pow(a.dot(b) / 2.0 + 1.0, 3); };
  double yy = 0;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      if (i != j) yy += k(y.row(i), y.row(j)) / 6.0;
  auto h = [&](int i) { return (k(x.row(i), y.row(0)) + k(x.row(i), y.row(1)) + k(x.row(i), y.row(2))) / 3.0; };
  const double expected = k(x.row(0), x.row(1)) + yy - 2.0 * (2.0 * h(0) + h(1)) / 3.0;
  EXPECT_NEAR(dm::eval::kid_resampled(x, y, 1, 3, 0)(Counts{2, 1, 0}), expected, 1e-12);
}

TEST(Bootstrap, KidReplicatesAreCentredForSamplesOfTheSameDistribution) {
  // Unbiased within-set terms: for x and y from one distribution the replicates average near 0 (a
  // within-set average that kept the pairs of copies would be biased up by about E k(x, x) / n).
  const Eigen::MatrixXd x = normal_rows(200, 4, 40), y = normal_rows(2000, 4, 41);
  const auto e = dm::eval::kid_with_interval(x, y, 3, 1000, 0, options(100, 3));
  EXPECT_TRUE(e.ci.contains(0.0)) << "KID " << e.value << " [" << e.ci.lo << ", " << e.ci.hi << "]";
}
