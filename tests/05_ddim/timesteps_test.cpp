// Exercise 05.1: DDIM timestep schedules (leading, trailing, linspace) and where each step lands.
// Checks the pinned values of every spacing (diffusers' published 801, 601, 401, 201, 1 for 5 leading
// steps with offset 1, and the trailing and linspace analogues), golden values, the shape of every
// schedule for every step count, usage errors, and that t_prev is read from the materialised
// schedule with the last step landing on t = -1 (alpha_bar = 1). Known mistakes are named:
// t_prev = t - T/steps (diffusers' rule, right only for leading), a last step to t = 0, an integer
// ratio in trailing, truncation instead of rounding.
// Run one test: build/default/bin/test_05_exercises --gtest_filter='Timesteps.*'
#include <gtest/gtest.h>

#include <stdexcept>

#include "05_ddim/ddim.hpp"
#include "ch05_reference.hpp"
#include "testing.hpp"

using namespace dm::ch05;
namespace t5 = dm::ch05::test;
using dm::testing::golden;
using Steps = std::vector<std::int64_t>;

namespace {

const Spacing kAll[] = {Spacing::Leading, Spacing::Trailing, Spacing::Linspace};

// What the usual slips give, to name them when a schedule is wrong.
std::string timestep_mistake(std::int64_t T, std::int64_t n, Spacing sp, const Steps& got) {
  Steps trunc_trailing, int_ratio_trailing, trunc_linspace, no_minus_one;
  for (std::int64_t i = 0; i < n; ++i) {
    int_ratio_trailing.push_back(T - i * (T / n) - 1);
    trunc_trailing.push_back(std::int64_t(double(T) - double(i) * double(T) / double(n)) - 1);
    no_minus_one.push_back(std::int64_t(std::nearbyint(double(T) - double(i) * double(T) / double(n))));
    trunc_linspace.push_back(n == 1 ? 0 : std::int64_t(double(n - 1 - i) * double(T - 1) / double(n - 1)));
  }
  if (sp == Spacing::Trailing && got == int_ratio_trailing && got != t5::trailing(T, n))
    return "trailing uses the real ratio T / steps (a double), not the integer division T / steps";
  if (sp == Spacing::Trailing && got == no_minus_one) return "trailing subtracts 1: the first timestep is T - 1";
  if (sp == Spacing::Trailing && got == trunc_trailing)
    return "trailing rounds to the nearest integer (std::nearbyint), it does not truncate";
  if (sp == Spacing::Linspace && got == trunc_linspace)
    return "linspace rounds to the nearest integer (std::nearbyint), it does not truncate";
  if (!got.empty() && got.front() < got.back()) return "the schedule must be decreasing: the largest t comes first";
  return "";
}

void expect_schedule(std::int64_t T, std::int64_t n, Spacing sp, std::int64_t offset, const Steps& expected) {
  const auto got = ddim_timesteps(T, n, sp, offset);
  const auto hint = timestep_mistake(T, n, sp, got);
  EXPECT_EQ(got, expected) << spacing_name(sp) << ", T = " << T << ", " << n << " steps, offset " << offset << ": got "
                           << t5::show(got) << ", expected " << t5::show(expected)
                           << (hint.empty() ? "" : "\nlikely mistake: " + hint);
}

}  // namespace

TEST(Timesteps, MatchThePinnedValuesOfEverySpacing) {
  // diffusers' own test (tests/schedulers/test_scheduler_ddim.py, test_steps_offset) pins the first line.
  expect_schedule(1000, 5, Spacing::Leading, 1, {801, 601, 401, 201, 1});
  expect_schedule(1000, 5, Spacing::Leading, 0, {800, 600, 400, 200, 0});
  expect_schedule(1000, 5, Spacing::Trailing, 0, {999, 799, 599, 399, 199});
  expect_schedule(1000, 5, Spacing::Linspace, 0, {999, 749, 500, 250, 0});
  expect_schedule(1000, 3, Spacing::Leading, 0, {666, 333, 0});
  expect_schedule(1000, 3, Spacing::Trailing, 0, {999, 666, 332});
  expect_schedule(1000, 3, Spacing::Linspace, 0, {999, 500, 0});
  expect_schedule(1000, 7, Spacing::Trailing, 0, {999, 856, 713, 570, 428, 285, 142});
  expect_schedule(1000, 7, Spacing::Linspace, 0, {999, 832, 666, 500, 333, 166, 0});
  expect_schedule(1000, 1, Spacing::Trailing, 0, {999});
  expect_schedule(1000, 1, Spacing::Linspace, 0, {0});
}

TEST(Timesteps, RoundTiesToEvenLikeNumpy) {
  // T = 10, 4 trailing steps: 10, 7.5, 5, 2.5 -> 10, 8, 5, 2 (ties to even) -> minus 1.
  const auto got = ddim_timesteps(10, 4, Spacing::Trailing);
  EXPECT_EQ(got, (Steps{9, 7, 4, 1})) << "got " << t5::show(got)
                                      << (got == Steps{9, 7, 5, 2}
                                              ? ": ties must go to the even neighbour, as numpy's round does "
                                                "(std::nearbyint), not away from zero (std::round)"
                                              : "");
  expect_schedule(10, 4, Spacing::Leading, 0, {6, 4, 2, 0});
  expect_schedule(10, 4, Spacing::Linspace, 0, {9, 6, 3, 0});
}

TEST(Timesteps, MatchReferenceOnGoldenValues) {
  for (Spacing sp : kAll)
    for (std::int64_t n : {2, 10, 20, 50, 100, 333, 1000}) {
      const std::int64_t offset = sp == Spacing::Leading && n < 1000 ? 1 : 0;
      EXPECT_TRUE(golden(t5::kGolden,
                         std::string("timesteps/") + spacing_name(sp) + "/T=1000/steps=" + std::to_string(n),
                         t5::as_doubles(ddim_timesteps(1000, n, sp, offset)), 0, 0));
    }
}

TEST(Timesteps, AreDecreasingInRangeAndTrailingAndLinspaceStartAtTMinus1) {
  const std::int64_t T = 1000;
  for (Spacing sp : kAll) {
    for (std::int64_t n = 1; n <= T; ++n) {
      const auto ts = ddim_timesteps(T, n, sp);
      ASSERT_EQ(std::int64_t(ts.size()), n) << spacing_name(sp) << ": " << n << " steps need " << n << " timesteps";
      for (std::size_t i = 0; i < ts.size(); ++i) {
        ASSERT_TRUE(ts[i] >= 0 && ts[i] < T) << spacing_name(sp) << ", " << n << " steps: t = " << ts[i];
        if (i) {
          ASSERT_LT(ts[i], ts[i - 1]) << spacing_name(sp) << ", " << n << " steps: must strictly decrease";
        }
      }
      if (sp == Spacing::Trailing || (sp == Spacing::Linspace && n > 1)) {  // linspace, 1 step: {0}
        ASSERT_EQ(ts.front(), T - 1) << spacing_name(sp) << ", " << n
                                     << " steps: must start at t = T - 1, where x_T is pure noise";
      }
      if (sp != Spacing::Trailing || n == T) {
        ASSERT_EQ(ts.back(), 0) << spacing_name(sp) << ", " << n << " steps";
      }
    }
  }
}

TEST(Timesteps, RejectBadStepCounts) {
  for (Spacing sp : kAll) {
    EXPECT_THROW(ddim_timesteps(1000, 0, sp), std::invalid_argument) << spacing_name(sp) << ": 0 steps";
    EXPECT_THROW(ddim_timesteps(1000, -3, sp), std::invalid_argument) << spacing_name(sp) << ": negative steps";
    EXPECT_THROW(ddim_timesteps(1000, 1001, sp), std::invalid_argument)
        << spacing_name(sp) << ": more sampling steps than training steps";
  }
  EXPECT_THROW(ddim_timesteps(1000, 1000, Spacing::Leading, 1), std::invalid_argument)
      << "leading, 1000 steps, offset 1 would reach t = 1000, outside 0..999";
  EXPECT_NO_THROW(ddim_timesteps(1000, 1000, Spacing::Leading, 0));
}

TEST(Timesteps, PreviousIsTheNextScheduledStepAndTheLastLandsOnTheData) {
  const std::int64_t T = 1000;
  for (Spacing sp : kAll) {
    for (std::int64_t n : {1, 2, 3, 5, 7, 10, 50, 333, 999, 1000}) {
      SCOPED_TRACE(std::string(spacing_name(sp)) + ", " + std::to_string(n) + " steps");
      // the schedule as the pinned formulas give it (independent of 05.1's first half)
      Steps ts = t5::trailing(T, n);
      if (sp != Spacing::Trailing) {
        ts.clear();
        for (std::int64_t i = 0; i < n; ++i)
          ts.push_back(sp == Spacing::Leading ? (n - 1 - i) * (T / n)
                       : n == 1               ? 0
                                : std::int64_t(std::nearbyint(double(n - 1 - i) * double(T - 1) / double(n - 1))));
      }
      Steps expected(ts.begin() + 1, ts.end());
      expected.push_back(-1);
      const auto got = previous_timesteps(ts);
      std::string hint;
      Steps diffusers_rule, clamped_rule, lands_on_zero(ts.begin() + 1, ts.end()), first_gap;
      for (auto t : ts) {
        diffusers_rule.push_back(t - T / n);
        clamped_rule.push_back(std::max<std::int64_t>(t - T / n, -1));
        if (ts.size() > 1) first_gap.push_back(std::max<std::int64_t>(t - (ts[0] - ts[1]), -1));
      }
      lands_on_zero.push_back(0);
      if (got == diffusers_rule || got == clamped_rule || got == first_gap)
        hint =
            "t_prev looks like t - T/steps (diffusers' rule): that is right for leading spacing only; "
            "read t_prev from the materialised schedule (the next entry)";
      else if (got.size() + 1 == ts.size())
        hint = "t_prev needs one entry per timestep: the last step goes to t = -1 (the data)";
      else if (got == lands_on_zero)
        hint = "the last step must land on t = -1 (alpha_bar = 1, the data), not on t = 0, which still has noise";
      ASSERT_EQ(got, expected) << "t_prev = " << t5::show(got) << ", expected " << t5::show(expected)
                               << " for t = " << t5::show(ts) << (hint.empty() ? "" : "\nlikely mistake: " + hint);
    }
  }
}

TEST(Timesteps, DiffusersRuleWouldSkipScheduledSteps) {
  // Why the rule matters: with linspace, t - T/steps jumps from 250 to 50 and never visits 0's
  // neighbourhood in order; reading t_prev from the schedule visits exactly the scheduled levels.
  const auto ts = ddim_timesteps(1000, 5, Spacing::Linspace);
  const auto prev = previous_timesteps(ts);
  ASSERT_EQ(prev.size(), ts.size());
  EXPECT_EQ(prev, (Steps{749, 500, 250, 0, -1})) << "linspace, 5 steps";
  const auto tr = previous_timesteps(ddim_timesteps(1000, 3, Spacing::Trailing));
  EXPECT_EQ(tr, (Steps{666, 332, -1})) << "trailing, 3 steps: t - T/steps would give 666, 333, -1";
}
