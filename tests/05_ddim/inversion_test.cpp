// Exercise 05.4: DDIM inversion ddim_invert, the eta = 0 ODE run from the data to the noise, driven
// with recording fakes (ch05_reference.hpp): a fake model that records the timesteps and points it
// gets, and fake parts whose timesteps and previous_timesteps return the schedule written here and
// whose predict_x0 is a made-up map (not DDIM's) that records the alpha_bar it gets; sigma and step
// must not be called. The expected latent comes from the same loop written out over the same fakes
// (t5::fake_invert), so none of 05.1's or 05.2's code runs. The whole chain with your own parts
// (inverting, then sampling back, and the latents of data being N(0, I)) is checked, ungraded, in
// pipeline_test.cpp.
// The likeliest mistakes, each named by a test below (its name in brackets):
//   - the model called at the source level t_prev instead of the target t_i        [WalksTheSchedule...]
//   - the schedule walked in the sampler's order; the last inversion step missing  [WalksTheSchedule...]
//   - x0_hat at the target level; the sampler's step instead of its inverse        [PredictsX0...]
//   - opt.final_alpha_bar ignored (the data taken at alpha_bar = 1)                [PredictsX0...]
//   - the point not moved to the level it goes to, or opt.eta used                 [ReturnsTheLatent...]
// Run one test: build/default/bin/test_05_exercises --gtest_filter='DdimInversion.*'
#include <gtest/gtest.h>

#include <fmt/core.h>

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

// A made-up schedule of T = 50 levels and a 5-step schedule in it that starts at T - 1, as the fake
// parts return it.
constexpr std::int64_t kT = t5::kToyT;
using t5::toy_alpha_bar;
const Steps kTs = {49, 37, 22, 10, 3};

t5::FakeParts fake_parts() {
  t5::FakeParts f;
  f.ts = kTs;
  f.t_prev = t5::next_entries(kTs);  // {37, 22, 10, 3, -1}
  f.for_inversion = true;
  return f;
}

DdimOptions options(double final_ab = 1.0, double eta = 0.0) {
  DdimOptions opt;
  opt.steps = 5;
  opt.spacing = Spacing::Leading;
  opt.offset = 3;
  opt.final_alpha_bar = final_ab;
  opt.eta = eta;
  return opt;
}

using t5::report;

}  // namespace

TEST(DdimInversion, WalksTheScheduleUpwardsAtTheTargetTimesteps) {
  const auto ab = toy_alpha_bar();
  auto f = fake_parts();
  t5::FakeModel model;
  auto x0 = fixed_normal({3, 4}, 601).to(kF64).requires_grad_(true);
  const auto opt = options();
  const auto z = ddim_invert(f.parts(), model.fn(), t5::to_tensor(ab), x0, opt);

  ASSERT_EQ(f.schedule_calls.size(), 1u) << "ddim_invert asks parts.timesteps once for its schedule";
  EXPECT_EQ(f.schedule_calls[0].T, kT);
  EXPECT_EQ(f.schedule_calls[0].steps, opt.steps);
  EXPECT_EQ(f.schedule_calls[0].spacing, opt.spacing);
  EXPECT_EQ(f.schedule_calls[0].offset, opt.offset);
  if (!model.problem.empty()) ADD_FAILURE() << "likely mistake: " << model.problem;
  if (!f.problem.empty()) ADD_FAILURE() << "likely mistake: " << f.problem;
  const auto calls = model.timesteps();
  const Steps up(f.ts.rbegin(), f.ts.rend());
  report(t5::inversion_calls_mistake(calls, f.ts, f.t_prev));
  EXPECT_EQ(calls, up) << "inversion runs the sampler's steps backwards, calling the model at each step's target "
                          "level t_i: "
                       << t5::show(up) << "; got " << t5::show(calls);
  // each model call sees the current point: x0, then the point after each inversion step
  for (std::size_t i = 0; i < model.calls.size() && i < f.predict_calls.size(); ++i)
    EXPECT_TRUE(tensors_close(fmt::format("predict_x0's input at inversion step {} is the point the model saw", i),
                              f.predict_calls[i].x, model.calls[i].x, 0, 0));
  if (!model.calls.empty()) {
    EXPECT_TRUE(tensors_close("the model's first input: the data x0", model.calls[0].x, x0.detach(), 0, 0));
  }
  ASSERT_TRUE(z.defined());
  EXPECT_EQ(z.sizes(), x0.sizes());
  EXPECT_FALSE(z.requires_grad()) << "ddim_invert records no gradients";
  EXPECT_TRUE(t5::is_last_point(z, f.predict_calls, t5::level(ab, f.ts[0])));
}

TEST(DdimInversion, PredictsX0AtTheLevelThePointIsAt) {
  // final_alpha_bar 1 (the default) and 0.97: the data, at t = -1, sit at final_alpha_bar
  const auto ab = toy_alpha_bar();
  for (double final_ab : {1.0, 0.97}) {
    auto f = fake_parts();
    t5::FakeModel model;
    const auto x0 = fixed_normal({2, 3}, 602).to(kF64);
    const auto got = ddim_invert(f.parts(), model.fn(), t5::to_tensor(ab), x0, options(final_ab));
    t5::InvertTrace ref, ref_swapped;
    t5::fake_invert(f, ab, x0, final_ab, ref);
    const auto swapped = t5::fake_invert(f, ab, x0, final_ab, ref_swapped, /*swapped=*/true);
    const std::string at = fmt::format("final_alpha_bar = {}", final_ab);
    if (!f.problem.empty()) ADD_FAILURE() << "likely mistake: " << f.problem;
    report(t5::inversion_levels_mistake(f.predict_calls, ref, final_ab, got, swapped));
    EXPECT_TRUE(t5::is_last_point(got, f.predict_calls, t5::level(ab, f.ts[0]))) << at;
    ASSERT_EQ(f.predict_calls.size(), f.ts.size()) << "one parts.predict_x0 per inversion step (" << at << ")";
    for (std::size_t i = 0; i < ref.ab_from.size(); ++i) {
      EXPECT_DOUBLE_EQ(f.predict_calls[i].ab_t, ref.ab_from[i])
          << "inversion step " << i << " (up to t = " << ref.t[i] << ") predicts x0_hat at the level the point is at, "
          << (i == 0 ? "the data's final_alpha_bar" : "that of t_prev = " + std::to_string(ref.t[i - 1])) << " (" << at
          << ")";
      if (i < model.calls.size()) {
        EXPECT_TRUE(tensors_close(fmt::format("the eps predict_x0 gets at inversion step {} is the model's", i),
                                  f.predict_calls[i].eps, model.calls[i].eps, 0, 0));
      }
    }
  }
}

TEST(DdimInversion, ReturnsTheLatentOfTheLoopOverTheFakeParts) {
  // opt.eta = 0.7 is ignored: inversion is always eta = 0
  const auto ab = toy_alpha_bar();
  auto f = fake_parts();
  t5::FakeModel model;
  const auto x0 = fixed_normal({4, 2, 2}, 603).to(kF64);
  const auto opt = options(0.97, 0.7);
  const auto got = ddim_invert(f.parts(), model.fn(), t5::to_tensor(ab), x0, opt);
  t5::InvertTrace ref;
  const auto expected = t5::fake_invert(f, ab, x0, opt.final_alpha_bar, ref);
  if (!f.problem.empty()) ADD_FAILURE() << "likely mistake: " << f.problem;
  // the point after each step is x0_hat put at the level it goes to, with the same eps
  const auto n = std::min(f.predict_calls.size(), model.calls.size());
  for (std::size_t i = 0; i + 1 < n && i < ref.ab_to.size(); ++i)
    EXPECT_TRUE(tensors_close(
        fmt::format("the point after inversion step {}: x0_hat at the level of t = {}, with the step's eps", i,
                    ref.t[i]),
        model.calls[i + 1].x, t5::at_level(f.predict_calls[i].x0_hat, model.calls[i].eps, ref.ab_to[i]), 1e-12, 1e-12));
  ASSERT_TRUE(got.defined());
  EXPECT_TRUE(tensors_close("the latent against the inversion loop over the fake parts", got, expected, 1e-12, 1e-12));
}
