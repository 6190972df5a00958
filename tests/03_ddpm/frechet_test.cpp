// Exercise 03.5: the Fréchet distance of two Gaussians.
// Checks the square root (S^1/2 S^1/2 = S, clamping round-off), FD = 0 for identical Gaussians, the
// 1-D closed form (m1 - m2)^2 + (s1 - s2)^2, the closed form for commuting covariances
// (same eigenvectors: ||mu1 - mu2||^2 + sum_i (sqrt(l1_i) - sqrt(l2_i))^2), symmetry, and the
// reference value on random covariances (golden).
// Run one test: build/default/bin/test_03_exercises --gtest_filter='Frechet.*'
#include <gtest/gtest.h>

#include <Eigen/LU>

#include <cmath>

#include "03_ddpm/frechet.hpp"
#include "ch03_reference.hpp"
#include "testing.hpp"

using namespace dm::ch03;
using dm::testing::fixed_normal;
using dm::testing::golden;

namespace {
Eigen::MatrixXd from(const torch::Tensor& t) {
  auto c = t.to(torch::kFloat64).contiguous();
  Eigen::MatrixXd m(c.size(0), c.size(1));
  for (int i = 0; i < m.rows(); ++i)
    for (int j = 0; j < m.cols(); ++j) m(i, j) = c[i][j].item<double>();
  return m;
}
Eigen::MatrixXd random_spd(int d, std::uint64_t seed) {
  Eigen::MatrixXd a = from(fixed_normal({d, d + 3}, seed));
  return a * a.transpose() / double(d + 3);
}
Eigen::VectorXd random_vec(int d, std::uint64_t seed) { return from(fixed_normal({d, 1}, seed)).col(0); }

// The principal square root of a matrix A with positive real eigenvalues (S1 S2 for SPD S1, S2: it is
// similar to S1^1/2 S2 S1^1/2), by the Denman-Beavers iteration Y <- (Y + Z^-1) / 2, Z <- (Z + Y^-1) / 2
// from Y = A, Z = I, which converges quadratically to Y = A^1/2. No eigendecomposition, unlike sqrtm_psd.
// (Eigen's Schur-based MatrixFunctions would do as well, at ~100 s of compile time for this one file.)
Eigen::MatrixXd sqrtm_denman_beavers(const Eigen::MatrixXd& a) {
  Eigen::MatrixXd y = a, z = Eigen::MatrixXd::Identity(a.rows(), a.cols());
  for (int k = 0; k < 100; ++k) {
    const Eigen::MatrixXd y_inv = y.inverse(), z_inv = z.inverse();
    const Eigen::MatrixXd y_next = 0.5 * (y + z_inv);
    z = 0.5 * (z + y_inv);
    const double change = (y_next - y).norm() / y.norm();
    y = y_next;
    if (change < 1e-15) break;
  }
  return y;
}
}  // namespace

TEST(Frechet, SquareRootSquaresBack) {
  Eigen::MatrixXd s = random_spd(6, 80);
  Eigen::MatrixXd r = sqrtm_psd(s);
  EXPECT_LT((r * r - s).cwiseAbs().maxCoeff(), 1e-10) << "sqrtm_psd(S)^2 must give S back";
  EXPECT_LT((r - r.transpose()).cwiseAbs().maxCoeff(), 1e-12) << "the square root of a symmetric matrix is symmetric";
  // rank-deficient: eigenvalues like -1e-17 must not give NaN
  Eigen::VectorXd u = random_vec(5, 81);
  Eigen::MatrixXd rank1 = u * u.transpose();
  Eigen::MatrixXd r1 = sqrtm_psd(rank1);
  EXPECT_FALSE(r1.hasNaN()) << "clamp negative round-off eigenvalues to 0 before the square root";
  EXPECT_LT((r1 * r1 - rank1).cwiseAbs().maxCoeff(), 1e-8);
}

TEST(Frechet, IdenticalGaussiansAreAtDistanceZero) {
  Eigen::MatrixXd s = random_spd(8, 82);
  Eigen::VectorXd mu = random_vec(8, 83);
  const double fd = frechet_distance(mu, s, mu, s);
  EXPECT_GE(fd, 0.0) << "clamp round-off below 0 to 0";
  EXPECT_LT(fd, 1e-9);
}

TEST(Frechet, OneDimensionalClosedForm) {
  Eigen::VectorXd m1(1), m2(1);
  m1 << 0.5;
  m2 << -1.0;
  Eigen::MatrixXd v1(1, 1), v2(1, 1);
  v1 << 4.0;
  v2 << 0.25;
  // (0.5 + 1)^2 + (2 - 0.5)^2 = 2.25 + 2.25
  EXPECT_NEAR(frechet_distance(m1, v1, m2, v2), 4.5, 1e-12)
      << "FD = (m1 - m2)^2 + (s1 - s2)^2 in 1-D (standard deviations, not variances)";
}

TEST(Frechet, CommutingCovariancesMatchTheClosedForm) {
  const int d = 7;
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(from(fixed_normal({d, d}, 84)));
  Eigen::MatrixXd q = qr.householderQ();  // a random rotation
  Eigen::VectorXd l1 = from(dm::testing::fixed_uniform({d, 1}, 85, 0.1, 2.0)).col(0);
  Eigen::VectorXd l2 = from(dm::testing::fixed_uniform({d, 1}, 86, 0.1, 2.0)).col(0);
  Eigen::MatrixXd s1 = q * l1.asDiagonal() * q.transpose(), s2 = q * l2.asDiagonal() * q.transpose();
  Eigen::VectorXd mu1 = random_vec(d, 87), mu2 = random_vec(d, 88);
  const double expected = (mu1 - mu2).squaredNorm() + (l1.cwiseSqrt() - l2.cwiseSqrt()).squaredNorm();
  EXPECT_NEAR(frechet_distance(mu1, s1, mu2, s2), expected, 1e-9)
      << "for S1, S2 with the same eigenvectors, FD = ||mu1 - mu2||^2 + sum (sqrt(l1) - sqrt(l2))^2";
}

TEST(Frechet, IsSymmetricAndMatchesReference) {
  Eigen::MatrixXd s1 = random_spd(10, 89), s2 = random_spd(10, 90);
  Eigen::VectorXd mu1 = random_vec(10, 91), mu2 = random_vec(10, 92);
  const double ab = frechet_distance(mu1, s1, mu2, s2), ba = frechet_distance(mu2, s2, mu1, s1);
  EXPECT_NEAR(ab, ba, 1e-9) << "the Fréchet distance is symmetric";
  EXPECT_TRUE(golden(test::kGolden, "frechet/random_10d", std::vector<double>{ab}, 1e-9, 1e-9));
}

TEST(Frechet, MatchesAGeneralSqrtmOfTheProductForRandomSpdPairs) {
  // Independent reference: the trace of the principal square root of the non-symmetric S1 S2 (by the
  // Denman-Beavers iteration), as the reference FID code computes it with scipy.linalg.sqrtm.
  for (std::uint64_t seed : {3, 4, 5}) {
    const int d = 8;
    const Eigen::MatrixXd s1 = random_spd(d, 900 + seed) + 0.1 * Eigen::MatrixXd::Identity(d, d);
    const Eigen::MatrixXd s2 = random_spd(d, 950 + seed) + 0.1 * Eigen::MatrixXd::Identity(d, d);
    const Eigen::VectorXd mu1 = from(fixed_normal({d, 1}, 980 + seed)).col(0);
    const Eigen::VectorXd mu2 = from(fixed_normal({d, 1}, 990 + seed)).col(0);
    const Eigen::MatrixXd product = s1 * s2;
    const Eigen::MatrixXd covmean = sqrtm_denman_beavers(product);
    const double expected = (mu1 - mu2).squaredNorm() + s1.trace() + s2.trace() - 2.0 * covmean.trace();
    EXPECT_NEAR(frechet_distance(mu1, s1, mu2, s2), expected, 1e-9 * std::max(1.0, expected)) << "seed " << seed;
  }
}

TEST(Frechet, StaysFiniteForSingularCovariancesFromFewSamples) {
  // Rank-2 covariances in 6 dimensions, like FID at tiny n: the square roots must not give NaN.
  Eigen::MatrixXd a = from(fixed_normal({6, 2}, 995)), b = from(fixed_normal({6, 2}, 996));
  const Eigen::MatrixXd s1 = a * a.transpose(), s2 = b * b.transpose();
  const double fd = frechet_distance(Eigen::VectorXd::Zero(6), s1, Eigen::VectorXd::Zero(6), s2);
  EXPECT_TRUE(std::isfinite(fd)) << "FD of singular covariances is " << fd
                                 << ": clamp the round-off negative eigenvalues at 0 before the square root";
  EXPECT_GT(fd, 0.0);
}
