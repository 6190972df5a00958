// Ungraded: the CUDA Euler-Maruyama kernel for the VP-SDE (chapters/01_ito_sde/em_cuda.cu)
// against the exact moments of the Euler-Maruyama chain (5 standard errors) and the
// closed form. Skipped, with the reason, when no GPU can be used (or the build has no CUDA).
// Run: build/default/bin/test_01_solutions --gtest_filter='VpGpu.*'
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "em_gpu.hpp"
#include "testing.hpp"

namespace {

using namespace dm::ch01;

TEST(VpGpu, AvailabilityComesWithAReason) {
  std::string why;
  if (!gpu_available(&why)) {
    EXPECT_FALSE(why.empty()) << "gpu_available() == false must say why";
  }
}

TEST(VpGpu, MomentsMatchTheEulerMaruyamaChainAndTheClosedForm) {
  std::string why;
  if (!gpu_available(&why)) GTEST_SKIP() << "no GPU: " << why;
  VpGpuConfig cfg;
  cfg.n_paths = 1 << 20;
  cfg.n_steps = 1000;
  cfg.n_save = 11;
  cfg.n_keep = 1000;
  cfg.seed = 7;
  const auto r = simulate_vp_gpu(cfg);
  ASSERT_EQ(r.mean.size(), 11u);
  ASSERT_EQ(r.final_x.size(), 1000u);
  const double n = static_cast<double>(cfg.n_paths), dt = 1.0 / cfg.n_steps;
  double m = cfg.x0, v = 0;  // the EM chain's exact moments
  for (int k = 0; k <= cfg.n_steps; ++k) {
    if (k % 100 == 0) {
      const int s = k / 100;
      EXPECT_NEAR(r.mean[s], m, dm::testing::mc_tol(std::sqrt(v), cfg.n_paths) + 1e-12) << "mean at t = " << r.t[s];
      EXPECT_NEAR(r.var[s], v, dm::testing::mc_tol(v * std::sqrt(2.0), cfg.n_paths) + 1e-12) << "var at t = " << r.t[s];
    }
    if (k == cfg.n_steps) break;
    const double b = cfg.beta_min + k * dt * (cfg.beta_max - cfg.beta_min);
    m *= 1 - 0.5 * b * dt;
    v = (1 - 0.5 * b * dt) * (1 - 0.5 * b * dt) * v + b * dt;
  }
  // The closed form (B(0, 1) = 10.05), up to the chain's O(dt) bias (~ beta_max dt / 4 in the variance).
  EXPECT_NEAR(r.mean.back(), std::exp(-10.05 / 2), 5 / std::sqrt(n));
  EXPECT_NEAR(r.var.back(), 1 - std::exp(-10.05), 5 * std::sqrt(2 / n) + 20.0 * dt / 4);
}

}  // namespace
