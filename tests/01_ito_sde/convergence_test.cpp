// Exercise 01.5: strong and weak convergence of Euler-Maruyama on geometric Brownian
// motion. Checks the reference values on seeded noise, the least-squares slope on exact
// power laws, the measured orders (strong 1/2, weak 1) and the weak error against its
// closed form: the EM mean is x0 (1 + lambda h)^N exactly, the true mean x0 e^{lambda T}.
// Run one test: build/default/bin/test_01_solutions --gtest_filter='Convergence.*'
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "01_ito_sde/convergence.hpp"
#include "ch01_testing.hpp"

namespace {

using namespace dm::ch01;

// One noise array shared by the tests below: 10000 paths, 256 fine steps (seed 501).
const Eigen::ArrayXXd& shared_noise() {
  static const Eigen::ArrayXXd z = testutil::normals(10000, 256, 501);
  return z;
}

TEST(Convergence, ErrorsMatchReference) {
  const auto z = testutil::normals(50, 16, 502);
  std::vector<double> got;
  for (int n : {1, 2, 4, 16}) {
    const auto e = gbm_em_errors(Gbm{}, z, n);
    got.insert(got.end(), {e.h, e.strong, e.weak});
  }
  EXPECT_TRUE(dm::testing::golden("01_ito_sde", "convergence/gbm_errors_50x16", got, 1e-12, 1e-9));
  EXPECT_TRUE(dm::testing::golden("01_ito_sde", "convergence/loglog_slope",
                                  {loglog_slope({0.5, 0.25, 0.125, 0.0625}, {0.9, 0.5, 0.3, 0.14})}));
}

TEST(Convergence, SlopeOfAnExactPowerLaw) {
  std::vector<double> h, err;
  for (int k = 1; k <= 6; ++k) {
    h.push_back(std::pow(2.0, -k));
    err.push_back(3.0 * std::pow(h.back(), 0.7));
  }
  EXPECT_NEAR(loglog_slope(h, err), 0.7, 1e-12) << "err = 3 h^0.7 has slope 0.7 on log-log axes";
  EXPECT_NEAR(loglog_slope({0.1, 0.01}, {2.0, 0.02}), 2.0, 1e-12)
      << "two points: (log 0.02 - log 2) / (log 0.01 - log 0.1)";
}

TEST(Convergence, WithoutNoiseTheWeakErrorIsEulersError) {
  // sigma = 0: X is x0 (1 + lambda h)^N against x0 e^{lambda T}, for every path.
  Gbm g;
  g.sigma = 0;
  const auto e = gbm_em_errors(g, testutil::normals(10, 8, 503), 4);
  EXPECT_NEAR(e.h, 0.25, 1e-15);
  EXPECT_NEAR(e.strong, std::exp(g.lambda) - std::pow(1 + g.lambda * 0.25, 4), 1e-12);
  EXPECT_NEAR(e.weak, e.strong, 1e-12);
}

TEST(Convergence, StrongOrderIsOneHalf) {
  std::vector<double> h, err;
  for (int n : {8, 16, 32, 64, 128}) {
    const auto e = gbm_em_errors(Gbm{}, shared_noise(), n);
    h.push_back(e.h);
    err.push_back(e.strong);
  }
  const double p = loglog_slope(h, err);
  if (std::abs(p) < 0.1)
    ADD_FAILURE() << "the strong error does not shrink with h: are the coarse increments sums of the fine "
                     "ones (the same Brownian path as the exact solution)?";
  EXPECT_GE(p, 0.4) << "strong order of Euler-Maruyama";
  EXPECT_LE(p, 0.6) << "strong order of Euler-Maruyama";
}

// The weak error is a Monte-Carlo estimate: |mean over paths of (X_EM - X_exact)|, whose standard
// error is sd(X_EM - X_exact) / sqrt(paths). The test simulates the paired difference itself (with
// the coarse increments as sums of the fine ones) to know that standard error at each h.
double weak_error_se(const Gbm& g, const Eigen::ArrayXXd& z, int n) {
  const Eigen::Index r = z.cols() / n;
  const double h = g.T / n, sqrt_fine = std::sqrt(g.T / static_cast<double>(z.cols()));
  Eigen::ArrayXd x = Eigen::ArrayXd::Constant(z.rows(), g.x0), w = Eigen::ArrayXd::Zero(z.rows());
  for (int k = 0; k < n; ++k) {
    const Eigen::ArrayXd dw = sqrt_fine * z.middleCols(k * r, r).rowwise().sum();
    x += g.lambda * x * h + g.sigma * x * dw;
    w += dw;
  }
  const Eigen::ArrayXd d = x - g.x0 * ((g.lambda - 0.5 * g.sigma * g.sigma) * g.T + g.sigma * w).exp();
  return std::sqrt((d - d.mean()).square().mean() / static_cast<double>(z.rows()));
}

TEST(Convergence, WeakOrderIsOne) {
  const Gbm g;
  std::vector<double> h, err, rel_se;
  for (int n : {8, 16, 32, 64, 128}) {
    const auto e = gbm_em_errors(g, shared_noise(), n);
    h.push_back(e.h);
    err.push_back(e.weak);
    // The EM mean is exactly x0 (1 + lambda h)^N: the weak error has a closed form, and the estimate
    // may differ from it only by its Monte-Carlo error (5 standard errors).
    const double exact_weak = g.x0 * (std::exp(g.lambda * g.T) - std::pow(1 + g.lambda * e.h, n));
    const double se = weak_error_se(g, shared_noise(), n);
    rel_se.push_back(se / exact_weak);
    EXPECT_NEAR(e.weak, exact_weak, 5 * se) << "weak error at h = " << e.h << " against its closed form " << exact_weak
                                            << " (Monte-Carlo standard error " << se << ")";
  }
  // The slope's own error: a least-squares slope is sum_i c_i log err_i with c_i = dx_i / sum dx^2,
  // and log err_i carries a relative error se_i / err_i.
  double mx = 0, sxx = 0, var = 0;
  for (double v : h) mx += std::log(v) / static_cast<double>(h.size());
  for (double v : h) sxx += (std::log(v) - mx) * (std::log(v) - mx);
  for (std::size_t i = 0; i < h.size(); ++i) var += std::pow((std::log(h[i]) - mx) / sxx * rel_se[i], 2);
  const double p = loglog_slope(h, err);
  EXPECT_NEAR(p, 1.0, 0.1 + 5 * std::sqrt(var))
      << "weak order of Euler-Maruyama (0.1 for the bias of a first-order error at these h, plus 5 standard errors "
         "of the fitted slope)";
}

}  // namespace
