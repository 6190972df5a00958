// The course library's respacing (03_ddpm/respace.hpp): ungraded, not tied to an exercise.
// Run: build/default/bin/test_03_solutions --gtest_filter='Respace.*'
#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include <torch/types.h>

#include "03_ddpm/respace.hpp"
#include "ch03_reference.hpp"

namespace {

using dm::ch03::respace;
using dm::ch03::test::linear_schedule;

double max_abs(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

TEST(Respace, KeepsEveryStepWhenKIsT) {
  const auto s = linear_schedule(1000);
  const auto r = respace(s, 1000);
  ASSERT_EQ(r.timesteps.size(), 1000u);
  for (std::int64_t t = 0; t < 1000; ++t) ASSERT_EQ(r.timesteps[std::size_t(t)], t);
  EXPECT_LT(max_abs(r.schedule.alpha_bar, s.alpha_bar), 1e-15);
  EXPECT_LT(max_abs(r.schedule.alpha, s.alpha), 1e-12) << "alpha_bar[t] / alpha_bar[t-1] must give alpha[t] back";
  EXPECT_LT(max_abs(r.schedule.beta, s.beta), 1e-12);
}

TEST(Respace, VisitsEvenlySpacedLevelsWithBothEndsAndChainsThem) {
  const auto s = linear_schedule(1000);
  const auto r = respace(s, 50);
  ASSERT_EQ(r.schedule.T(), 50);
  ASSERT_EQ(r.timesteps.size(), 50u);
  EXPECT_EQ(r.timesteps.front(), 0);
  EXPECT_EQ(r.timesteps.back(), 999);
  for (std::size_t k = 1; k < r.timesteps.size(); ++k) {
    const auto gap = r.timesteps[k] - r.timesteps[k - 1];
    EXPECT_TRUE(gap == 20 || gap == 21) << "gap " << gap << " before S_" << k;
  }
  for (std::int64_t k = 0; k < 50; ++k)
    EXPECT_EQ(r.schedule.alpha_bar[k].item<double>(), s.alpha_bar[r.timesteps[std::size_t(k)]].item<double>())
        << "level " << k << " is not the model's alpha_bar at S_k";
  // The K steps chain into the K levels: the running product of alpha' is alpha_bar'.
  EXPECT_LT(max_abs(torch::cumprod(r.schedule.alpha, 0), r.schedule.alpha_bar), 1e-12);
  EXPECT_GT(r.schedule.beta.min().item<double>(), 0.0);
  EXPECT_LT(r.schedule.beta.max().item<double>(), 1.0);
}

TEST(Respace, OneStepJumpsFromTheLastLevelAndBadCountsAreRejected) {
  const auto s = linear_schedule(100);
  const auto r = respace(s, 1);
  ASSERT_EQ(r.timesteps, std::vector<std::int64_t>{99});
  EXPECT_DOUBLE_EQ(r.schedule.beta[0].item<double>(), 1 - s.alpha_bar[99].item<double>());
  EXPECT_THROW(respace(s, 0), std::invalid_argument);
  EXPECT_THROW(respace(s, 101), std::invalid_argument);
}

TEST(Respace, AsksTheNetworkAtTheOriginalTimestep) {
  const auto r = respace(linear_schedule(1000), 50);
  std::vector<std::int64_t> seen;
  dm::ch03::EpsModel record = [&](const torch::Tensor& x, const torch::Tensor& t) {
    for (std::int64_t i = 0; i < t.size(0); ++i) seen.push_back(t[i].item<std::int64_t>());
    return torch::zeros_like(x);
  };
  const auto eps = dm::ch03::at_original_timesteps(record, r);
  eps(torch::zeros({3, 1}), torch::tensor({0, 49, 10}, torch::kLong));
  EXPECT_EQ(seen, (std::vector<std::int64_t>{0, 999, r.timesteps[10]}));
}

}  // namespace
