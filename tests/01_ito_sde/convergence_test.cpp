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

TEST(Convergence, WeakOrderIsOne) {
  const Gbm g;
  std::vector<double> h, err;
  for (int n : {8, 16, 32, 64, 128}) {
    const auto e = gbm_em_errors(g, shared_noise(), n);
    h.push_back(e.h);
    err.push_back(e.weak);
    // The EM mean is exactly x0 (1 + lambda h)^N: the weak error has a closed form.
    const double exact_weak = g.x0 * (std::exp(g.lambda * g.T) - std::pow(1 + g.lambda * e.h, n));
    EXPECT_NEAR(e.weak, exact_weak, 0.2 * exact_weak) << "weak error at h = " << e.h;
  }
  const double p = loglog_slope(h, err);
  EXPECT_GE(p, 0.8) << "weak order of Euler-Maruyama";
  EXPECT_LE(p, 1.2) << "weak order of Euler-Maruyama";
}

}  // namespace
