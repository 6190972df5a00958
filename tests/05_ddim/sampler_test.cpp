// Exercise 05.3: the DDIM sampler loop ddim_sample, driven with recording fakes (ch05_reference.hpp):
// a fake model that records the timesteps and samples it gets, and fake parts whose timesteps and
// previous_timesteps return the schedule written here and whose sigma and step are made-up maps (not
// DDIM's) that record the (alpha_bar_t, alpha_bar_prev, eta, z) they get. The expected states come
// from the same loop written out over the same fakes (t5::fake_sample), so none of 05.1's or 05.2's
// code runs: a slip there costs 05.1's or 05.2's points, not these. The whole chain with your own
// parts is checked, ungraded, in pipeline_test.cpp.
// The likeliest mistakes, each named by a test below (its name in brackets):
//   - the model called at t_prev instead of the step's timestep t_i                [CallsTheModel...]
//   - the last step, onto the data, missing                                        [CallsTheModel..., StepsFrom...]
//   - every step started from x_T instead of the previous step's x_prev            [CallsTheModel...]
//   - t_prev computed as t - T/steps instead of read off the schedule              [StepsFrom...]
//   - opt.final_alpha_bar ignored on the last step; the two levels swapped         [StepsFrom...]
//   - noise drawn at every step, or where eta (not sigma) says; noise_fn ignored   [DrawsNoise...]
//   - on_step missing or given the wrong t, x or x0_hat; not the last x returned   [ReportsEveryStep...]
// Run one test: build/default/bin/test_05_exercises --gtest_filter='DdimSampler.*'
#include <gtest/gtest.h>

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "05_ddim/ddim.hpp"
#include "ch05_reference.hpp"
#include "testing.hpp"

using namespace dm::ch05;
namespace t5 = dm::ch05::test;
using dm::testing::fixed_normal;
using dm::testing::tensors_close;
using t5::Steps;

namespace {

const auto kF64 = torch::kFloat64;

// A made-up schedule of T = 50 levels, and a 5-step schedule in it that no spacing rule gives
// (t - T/steps never lands on the next entry), as the fake parts return it.
constexpr std::int64_t kT = t5::kToyT;
using t5::toy_alpha_bar;
const Steps kTs = {45, 37, 22, 10, 3};

t5::FakeParts fake_parts() {
  t5::FakeParts f;
  f.ts = kTs;
  f.t_prev = t5::next_entries(kTs);  // {37, 22, 10, 3, -1}
  return f;
}

// Options at values other than the defaults, matching the 5-step schedule.
DdimOptions options(double eta, double final_ab = 1.0) {
  DdimOptions opt;
  opt.steps = 5;
  opt.spacing = Spacing::Linspace;
  opt.offset = 2;
  opt.eta = eta;
  opt.final_alpha_bar = final_ab;
  return opt;
}

// Noise draw i: fixed_normal(seed + i), x's shape and dtype; counts and keeps every draw.
struct CountingNoise {
  std::uint64_t seed = 700;
  Steps at;
  std::vector<torch::Tensor> drawn;
  NoiseFn fn() {
    return [this](const torch::Tensor& x, std::int64_t i) {
      at.push_back(i);
      drawn.push_back(fixed_normal(x.sizes().vec(), seed + std::uint64_t(i)).to(x.scalar_type()));
      return drawn.back();
    };
  }
};
NoiseFn numbered_noise(std::uint64_t seed) {
  return [seed](const torch::Tensor& x, std::int64_t i) {
    return fixed_normal(x.sizes().vec(), seed + std::uint64_t(i)).to(x.scalar_type());
  };
}

using t5::report;

}  // namespace

TEST(DdimSampler, CallsTheModelAtEachScheduledTimestepInOrder) {
  const auto ab = toy_alpha_bar();
  auto f = fake_parts();
  t5::FakeModel model;
  auto xT = fixed_normal({3, 4}, 551).to(kF64).requires_grad_(true);
  const auto opt = options(0.3);
  const auto out = ddim_sample(f.parts(), model.fn(), t5::to_tensor(ab), xT, opt, numbered_noise(600));

  ASSERT_EQ(f.schedule_calls.size(), 1u) << "ddim_sample asks parts.timesteps once for its schedule";
  EXPECT_EQ(f.schedule_calls[0].T, kT);
  EXPECT_EQ(f.schedule_calls[0].steps, opt.steps);
  EXPECT_EQ(f.schedule_calls[0].spacing, opt.spacing);
  EXPECT_EQ(f.schedule_calls[0].offset, opt.offset);
  if (!model.problem.empty()) ADD_FAILURE() << "likely mistake: " << model.problem;
  const auto calls = model.timesteps();
  report(t5::sampler_calls_mistake(calls, f.ts, f.t_prev));
  EXPECT_EQ(calls, f.ts) << "the model is called once per step, at t = " << t5::show(f.ts) << " in that order; got "
                         << t5::show(calls);
  // step i's model input is the current sample: x_T, then each step's x_prev
  const auto n = std::min(model.calls.size(), f.step_calls.size() + 1);
  bool from_x_T = model.calls.size() > 1;
  for (std::size_t i = 1; i < n; ++i) from_x_T = from_x_T && torch::equal(model.calls[i].x, xT.detach());
  if (from_x_T) ADD_FAILURE() << "likely mistake: every step starts from x_T instead of the previous step's x_prev";
  for (std::size_t i = 0; i < n; ++i)
    EXPECT_TRUE(tensors_close(fmt::format("the model's input at step {}", i), model.calls[i].x,
                              i == 0 ? xT.detach() : f.step_calls[i - 1].x_prev, 0, 0));
  ASSERT_TRUE(out.defined());
  EXPECT_EQ(out.sizes(), xT.sizes());
  EXPECT_FALSE(out.requires_grad()) << "ddim_sample records no gradients";
  EXPECT_TRUE(t5::is_last_x_prev(out, f.step_calls));
}

TEST(DdimSampler, StepsFromEachLevelToTheNextAndEndsAtFinalAlphaBar) {
  // final_alpha_bar 1 (the default) and 0.97 (diffusers' set_alpha_to_one = false lands near alpha_bar[0])
  const auto ab = toy_alpha_bar();
  for (double final_ab : {1.0, 0.97}) {
    auto f = fake_parts();
    t5::FakeModel model;
    const auto opt = options(0.4, final_ab);
    const auto out = ddim_sample(f.parts(), model.fn(), t5::to_tensor(ab), fixed_normal({2, 3}, 552).to(kF64), opt,
                                 numbered_noise(610));
    const std::string at = fmt::format("final_alpha_bar = {}", final_ab);
    EXPECT_TRUE(t5::is_last_x_prev(out, f.step_calls)) << at;
    report(t5::sampler_levels_mistake(f.step_calls, f.ts, f.t_prev, ab, final_ab, opt.steps));
    ASSERT_EQ(f.step_calls.size(), f.ts.size()) << "one parts.step per scheduled timestep (" << at << ")";
    for (std::size_t i = 0; i < f.ts.size(); ++i) {
      const auto& c = f.step_calls[i];
      const double a = t5::level(ab, f.ts[i]), ap = t5::level(ab, f.t_prev[i], final_ab);
      EXPECT_DOUBLE_EQ(c.ab_t, a) << "step " << i << " starts at the level of t = " << f.ts[i] << " (" << at << ")";
      EXPECT_DOUBLE_EQ(c.ab_prev, ap) << "step " << i << " lands on the level of t_prev = " << f.t_prev[i]
                                      << (f.t_prev[i] < 0 ? ", the data: alpha_bar = opt.final_alpha_bar" : "") << " ("
                                      << at << ")";
      EXPECT_EQ(c.eta, opt.eta) << "step " << i << " gets opt.eta";
      if (i < model.calls.size()) {
        EXPECT_TRUE(tensors_close(fmt::format("the eps that step {} gets is the model's at t = {}", i, f.ts[i]), c.eps,
                                  model.calls[i].eps, 0, 0));
      }
    }
  }
}

TEST(DdimSampler, DrawsNoiseOnlyAtTheStepsWhoseSigmaIsPositive) {
  const auto ab = toy_alpha_bar();
  // eta = 0.6 with a sigma that is 0 at step 2 (and on landing at alpha_bar = 1): noise at steps 0, 1, 3
  {
    auto f = fake_parts();
    const double a2 = t5::level(ab, f.ts[2]);
    f.sigma_rule = [a2](double a, double ap, double eta) { return a == a2 ? 0.0 : t5::fake_sigma(a, ap, eta); };
    t5::FakeModel model;
    CountingNoise noise;
    const auto out = ddim_sample(f.parts(), model.fn(), t5::to_tensor(ab), fixed_normal({2, 3}, 553).to(kF64),
                                 options(0.6), noise.fn());
    EXPECT_TRUE(t5::is_last_x_prev(out, f.step_calls));
    const Steps want = {0, 1, 3};
    report(t5::sampler_noise_mistake(noise.at, f.step_calls, want, f.ts.size(), true));
    EXPECT_EQ(noise.at, want) << "noise_fn(x, i) is called exactly at the steps whose parts.sigma is > 0, "
                              << t5::show(want) << " here; got " << t5::show(noise.at);
    std::size_t k = 0;
    for (std::size_t i = 0; i < f.step_calls.size(); ++i) {
      const auto& z = f.step_calls[i].z;
      const bool noisy = std::find(want.begin(), want.end(), std::int64_t(i)) != want.end();
      if (!noisy) {
        EXPECT_FALSE(z.defined()) << "step " << i << " has sigma = 0: it gets no z (an undefined tensor)";
      } else if (k < noise.drawn.size()) {
        EXPECT_TRUE(z.defined()) << "step " << i << " has sigma > 0: it gets the noise drawn for it";
        if (z.defined()) {
          EXPECT_TRUE(tensors_close(fmt::format("z of step {} is noise_fn's draw for it", i), z, noise.drawn[k], 0, 0));
        }
        ++k;
      }
    }
  }
  // eta = 0: sigma is 0 at every step, so no noise at all
  {
    auto f = fake_parts();
    t5::FakeModel model;
    CountingNoise noise;
    const auto out = ddim_sample(f.parts(), model.fn(), t5::to_tensor(ab), fixed_normal({2, 3}, 554).to(kF64),
                                 options(0.0), noise.fn());
    EXPECT_TRUE(t5::is_last_x_prev(out, f.step_calls));
    report(t5::sampler_noise_mistake(noise.at, f.step_calls, {}, f.ts.size(), true));
    EXPECT_TRUE(noise.at.empty()) << "eta = 0 adds no noise: the sampler draws none; got draws at "
                                  << t5::show(noise.at);
    for (const auto& c : f.step_calls) EXPECT_FALSE(c.z.defined()) << "at eta = 0 no step gets a z";
  }
  // no noise_fn: z is torch::randn_like(x) at the steps with sigma > 0 (all but the last here)
  {
    auto f = fake_parts();
    t5::FakeModel model;
    auto xT = fixed_normal({256, 4}, 555).to(kF64);
    const auto out = ddim_sample(f.parts(), model.fn(), t5::to_tensor(ab), xT, options(0.6));
    EXPECT_TRUE(t5::is_last_x_prev(out, f.step_calls));
    report(t5::sampler_noise_mistake({}, f.step_calls, {0, 1, 2, 3}, f.ts.size(), false));
    ASSERT_EQ(f.step_calls.size(), f.ts.size());
    for (std::size_t i = 0; i + 1 < f.step_calls.size(); ++i) {
      const auto& z = f.step_calls[i].z;
      ASSERT_TRUE(z.defined()) << "without noise_fn, a step with sigma > 0 gets torch::randn_like(x) (step " << i
                               << ")";
      EXPECT_EQ(z.sizes(), xT.sizes()) << "z is shaped like x";
      EXPECT_NEAR(z.std().item<double>(), 1.0, 0.1) << "z is standard normal noise (step " << i << ")";
    }
    EXPECT_FALSE(f.step_calls.back().z.defined()) << "the last step lands on alpha_bar = 1: sigma = 0, no z";
  }
}

TEST(DdimSampler, ReportsEveryStepAndReturnsTheLastSample) {
  const auto ab = toy_alpha_bar();
  auto f = fake_parts();
  t5::FakeModel model;
  auto xT = fixed_normal({3, 2, 2}, 556).to(kF64);
  const auto opt = options(0.5, 0.97);
  t5::SampleTrace seen;
  StepCallback cb = [&](std::int64_t i, std::int64_t t, const torch::Tensor& x, const torch::Tensor& x0_hat) {
    EXPECT_EQ(i, std::int64_t(seen.t.size())) << "on_step counts the steps 0, 1, ...";
    seen.t.push_back(t);
    seen.x.push_back(x.clone());
    seen.x0_hat.push_back(x0_hat.defined() ? x0_hat.clone() : torch::Tensor());
  };
  const auto out = ddim_sample(f.parts(), model.fn(), t5::to_tensor(ab), xT, opt, numbered_noise(620), cb);
  t5::SampleTrace ref;
  const auto expected = t5::fake_sample(f, ab, xT, opt.eta, opt.final_alpha_bar, numbered_noise(620), ref);
  EXPECT_EQ(seen.t, f.ts) << "on_step is called after every step with its timestep t_i; got " << t5::show(seen.t);
  for (std::size_t i = 0; i < std::min(seen.t.size(), ref.t.size()); ++i) {
    EXPECT_TRUE(tensors_close(fmt::format("on_step's x after step {}: the step's x_prev", i), seen.x[i], ref.x[i],
                              1e-12, 1e-12));
    EXPECT_TRUE(tensors_close(fmt::format("on_step's x0_hat at step {}: the step's x0_hat", i), seen.x0_hat[i],
                              ref.x0_hat[i], 1e-12, 1e-12));
  }
  ASSERT_TRUE(out.defined());
  EXPECT_TRUE(tensors_close("ddim_sample's result: the last step's x_prev (the loop over the fake parts)", out,
                            expected, 1e-12, 1e-12));
}
