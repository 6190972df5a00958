// Exercise 05.3: the DDIM sampler loop.
// Uses data x_0 ~ N(m, s^2 I), whose optimal eps(x_t, t) is known in closed form (ch05_reference.hpp),
// so no trained model is needed. Checks that the model is called at the scheduled timesteps, in order,
// with a [B] int64 t; that eta = 0 is deterministic (same noise -> identical output, no noise drawn);
// that with 1000 steps eta = 0 and eta = 1 both map the noise onto N(m, s^2) (moments at 5 standard
// errors plus the sampler's own first-order bias); golden values of whole runs.
// Run one test: build/default/bin/test_05_exercises --gtest_filter='DdimSampler.*'
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

// eps_fn of the Gaussian data that also records the timesteps it was called with.
struct Recorder {
  t5::GaussianData data;
  std::vector<std::int64_t> calls;
  std::string problem;
  EpsFn fn() {
    return [this](const torch::Tensor& x, const torch::Tensor& t) {
      if (t.scalar_type() != torch::kLong || t.dim() != 1 || t.size(0) != x.size(0))
        problem = "eps_fn must get t as a [B] int64 tensor, one entry per example";
      else if ((t != t[0]).any().item<bool>())
        problem = "all examples of a batch sit at the same timestep";
      calls.push_back(t[0].item<std::int64_t>());
      return data.eps(x, t);
    };
  }
};

NoiseFn fixed_noise(std::uint64_t seed) {
  return [seed](const torch::Tensor& x, std::int64_t i) {
    return fixed_normal({x.size(0), x.size(1)}, seed + std::uint64_t(i));
  };
}

}  // namespace

TEST(DdimSampler, CallsTheModelAtTheScheduledTimestepsInOrder) {
  const auto data = t5::gaussian_data(4);
  auto xT = fixed_normal({3, 4}, 551);
  const std::pair<Spacing, std::vector<std::int64_t>> cases[] = {{Spacing::Trailing, {999, 799, 599, 399, 199}},
                                                                 {Spacing::Linspace, {999, 749, 500, 250, 0}}};
  for (const auto& [sp, expected] : cases) {
    Recorder rec{data, {}, ""};
    DdimOptions opt;
    opt.steps = 5;
    opt.spacing = sp;
    auto out = ddim_sample(rec.fn(), data.alpha_bar, xT, opt);
    EXPECT_TRUE(rec.problem.empty()) << rec.problem;
    EXPECT_EQ(rec.calls, expected) << spacing_name(sp)
                                   << ": the model must be called once per step, at t = " << t5::show(expected)
                                   << "; got " << t5::show(rec.calls);
    ASSERT_TRUE(out.defined());
    EXPECT_EQ(out.sizes(), xT.sizes());
  }
}

TEST(DdimSampler, EtaZeroIsDeterministic) {
  const auto data = t5::gaussian_data(8);
  auto xT = fixed_normal({16, 8}, 561);
  int noise_draws = 0;
  NoiseFn counting = [&](const torch::Tensor& x, std::int64_t) {
    ++noise_draws;
    return torch::randn_like(x);
  };
  DdimOptions opt;
  opt.steps = 20;
  auto eps = [&](const torch::Tensor& x, const torch::Tensor& t) { return data.eps(x, t); };
  auto a = ddim_sample(eps, data.alpha_bar, xT, opt, counting);
  auto b = ddim_sample(eps, data.alpha_bar, xT.clone(), opt, counting);
  EXPECT_EQ(noise_draws, 0) << "eta = 0 adds no noise: the sampler must not draw any";
  EXPECT_TRUE(tensors_close("eta = 0: the same x_T twice", b, a, 0, 0)) << "same noise must give the same output";
  opt.eta = 1;
  ddim_sample(eps, data.alpha_bar, xT, opt, counting);
  EXPECT_EQ(noise_draws, opt.steps - 1)
      << "eta = 1: one noise draw per step except the last (sigma = 0 when landing on alpha_bar = 1)";
}

TEST(DdimSampler, MapsNoiseOntoTheDataDistribution) {
  // 1000 steps: the sampler's first-order bias in the standard deviation is below 1% (eta = 0) and
  // 1.5% (eta = 1) for s = 0.5; the mean is unbiased. x_T is drawn from the exact marginal at T-1.
  const std::int64_t n = 4096, D = 16;
  const auto data = t5::gaussian_data(D);
  auto xT = data.marginal(fixed_normal({n, D}, 571), 999);
  auto eps = [&](const torch::Tensor& x, const torch::Tensor& t) { return data.eps(x, t); };
  for (double eta : {0.0, 1.0}) {
    DdimOptions opt;
    opt.steps = 1000;
    opt.eta = eta;
    auto out = ddim_sample(eps, data.alpha_bar, xT, opt, fixed_noise(5000));
    auto [mean, sd] = t5::column_moments(out);
    const double mean_tol = dm::testing::mc_tol(data.s, n);
    const double sd_tol = 0.015 * data.s + dm::testing::mc_tol(data.s / std::sqrt(2.0), n);
    EXPECT_TRUE(tensors_close("eta = " + std::to_string(eta) + ": per-coordinate mean against m", mean,
                              data.m.to(torch::kFloat64), mean_tol, 0));
    EXPECT_TRUE(tensors_close("eta = " + std::to_string(eta) + ": per-coordinate sd against s", sd,
                              torch::full_like(sd, data.s), sd_tol, 0));
  }
}

TEST(DdimSampler, FewStepsStayOnTheDataMeanAndCallBackEveryStep) {
  const auto data = t5::gaussian_data(4);
  auto xT = data.marginal(fixed_normal({2048, 4}, 581), 999);
  std::vector<std::int64_t> seen;
  StepCallback cb = [&](std::int64_t i, std::int64_t t, const torch::Tensor& x, const torch::Tensor& x0_hat) {
    EXPECT_EQ(i, std::int64_t(seen.size())) << "steps are counted 0, 1, ...";
    EXPECT_EQ(x.sizes(), x0_hat.sizes());
    seen.push_back(t);
  };
  DdimOptions opt;
  opt.steps = 10;
  auto out = ddim_sample([&](const torch::Tensor& x, const torch::Tensor& t) { return data.eps(x, t); }, data.alpha_bar,
                         xT, opt, nullptr, cb);
  EXPECT_EQ(seen, ddim_timesteps(1000, 10, Spacing::Trailing)) << "on_step is called after every step with its t";
  auto [mean, sd] = t5::column_moments(out);
  EXPECT_TRUE(tensors_close("10 steps: mean", mean, data.m.to(torch::kFloat64), dm::testing::mc_tol(data.s, 2048), 0));
  EXPECT_LT(sd.max().item<double>(), data.s) << "few-step DDIM under-disperses (first-order error): sd < s";
}

TEST(DdimSampler, MatchesReferenceOnGoldenValues) {
  const auto data = t5::gaussian_data(6);
  auto xT = fixed_normal({5, 6}, 591);
  auto eps = [&](const torch::Tensor& x, const torch::Tensor& t) { return data.eps(x, t); };
  for (Spacing sp : {Spacing::Leading, Spacing::Trailing, Spacing::Linspace})
    for (double eta : {0.0, 0.5, 1.0}) {
      DdimOptions opt;
      opt.steps = 10;
      opt.spacing = sp;
      opt.offset = sp == Spacing::Leading ? 1 : 0;
      opt.eta = eta;
      auto out = ddim_sample(eps, data.alpha_bar, xT, opt, fixed_noise(6000));
      EXPECT_TRUE(golden(t5::kGolden,
                         std::string("sample/") + spacing_name(sp) + "/steps=10/eta=" + std::to_string(eta), out, 1e-5,
                         1e-5));
    }
}
