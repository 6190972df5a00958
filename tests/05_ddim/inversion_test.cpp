// Exercise 05.4: DDIM inversion, the eta = 0 ODE run from the data to the noise.
// With the analytic eps of Gaussian data: the model is called upwards at the target timesteps;
// inverting then sampling (with a reference sampler, not 05.3) reconstructs the data point, with an
// error that falls like 1/steps; latents of data are N(0, I); golden values.
// Run one test: build/default/bin/test_05_exercises --gtest_filter='DdimInversion.*'
#include <gtest/gtest.h>

#include <cmath>

#include "05_ddim/ddim.hpp"
#include "ch05_reference.hpp"
#include "testing.hpp"

using namespace dm::ch05;
namespace t5 = dm::ch05::test;
using dm::testing::fixed_normal;
using dm::testing::golden;
using dm::testing::tensors_close;

namespace {

double reconstruction_error(const t5::GaussianData& data, const torch::Tensor& x0, std::int64_t steps) {
  auto eps = [&](const torch::Tensor& x, const torch::Tensor& t) { return data.eps(x, t); };
  DdimOptions opt;
  opt.steps = steps;
  auto latent = ddim_invert(eps, data.alpha_bar, x0, opt);
  auto back = t5::reference_ddim_eta0(eps, data.alpha_bar, latent, t5::trailing(1000, steps));
  return (back - x0).abs().mean().item<double>();
}

}  // namespace

TEST(DdimInversion, WalksTheScheduleUpwardsAtTheTargetTimesteps) {
  const auto data = t5::gaussian_data(4);
  std::vector<std::int64_t> calls;
  auto eps = [&](const torch::Tensor& x, const torch::Tensor& t) {
    calls.push_back(t[0].item<std::int64_t>());
    return data.eps(x, t);
  };
  DdimOptions opt;
  opt.steps = 5;
  auto z = ddim_invert(eps, data.alpha_bar, data.marginal(fixed_normal({3, 4}, 601), -1), opt);
  const std::vector<std::int64_t> expected = {199, 399, 599, 799, 999};
  EXPECT_EQ(calls, expected) << "inversion runs the sampler's steps backwards, calling the model at each step's "
                                "target level t_i (199, 399, ..., 999 for 5 trailing steps); got "
                             << t5::show(calls)
                             << (calls == std::vector<std::int64_t>{0, 199, 399, 599, 799}
                                     ? "\nlikely mistake: the model is called at the source level t_prev"
                                     : "");
  ASSERT_TRUE(z.defined());
  EXPECT_EQ(z.sizes(), (std::vector<std::int64_t>{3, 4}));
}

TEST(DdimInversion, ReconstructsDataWithAnErrorFallingLikeOneOverSteps) {
  const auto data = t5::gaussian_data(16);
  auto x0 = data.marginal(fixed_normal({8, 16}, 611), -1);  // data points
  const double e100 = reconstruction_error(data, x0, 100), e200 = reconstruction_error(data, x0, 200);
  const double e1000 = reconstruction_error(data, x0, 1000);
  std::printf("inversion: mean |x0 - decode(invert(x0))| = %.2e (100 steps), %.2e (200), %.2e (1000)\n", e100, e200,
              e1000);
  EXPECT_LT(e1000, 5e-3) << "with 1000 steps, inverting then sampling must return the data point";
  EXPECT_GT(e100 / e200, 1.6) << "the error must fall like 1/steps (first order): ratio 100 -> 200 steps";
  EXPECT_LT(e100 / e200, 2.4) << "the error must fall like 1/steps (first order): ratio 100 -> 200 steps";
}

TEST(DdimInversion, LatentsOfDataAreStandardNormal) {
  const std::int64_t n = 4096, D = 16;
  const auto data = t5::gaussian_data(D);
  auto x0 = data.marginal(fixed_normal({n, D}, 621), -1);
  DdimOptions opt;
  opt.steps = 1000;
  auto z = ddim_invert([&](const torch::Tensor& x, const torch::Tensor& t) { return data.eps(x, t); }, data.alpha_bar,
                       x0, opt);
  auto [mean, sd] = t5::column_moments(z);
  EXPECT_TRUE(tensors_close("latent mean", mean, torch::zeros_like(mean), dm::testing::mc_tol(1, n) + 0.01, 0));
  EXPECT_TRUE(
      tensors_close("latent sd", sd, torch::ones_like(sd), 0.01 + dm::testing::mc_tol(1 / std::sqrt(2.0), n), 0));
}

TEST(DdimInversion, MatchesReferenceOnGoldenValues) {
  const auto data = t5::gaussian_data(6);
  auto x0 = data.marginal(fixed_normal({5, 6}, 631), -1);
  auto eps = [&](const torch::Tensor& x, const torch::Tensor& t) { return data.eps(x, t); };
  for (Spacing sp : {Spacing::Trailing, Spacing::Linspace}) {
    DdimOptions opt;
    opt.steps = 10;
    opt.spacing = sp;
    opt.eta = 1;  // ignored: inversion is always eta = 0
    EXPECT_TRUE(golden(t5::kGolden, std::string("invert/") + spacing_name(sp) + "/steps=10",
                       ddim_invert(eps, data.alpha_bar, x0, opt), 1e-5, 1e-5));
  }
}
