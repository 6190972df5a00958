// Exercise 02.2: alpha = 1 - beta, alpha_bar = cumulative product of alpha, SNR = alpha_bar / (1 - alpha_bar).
// Checks the reference values (golden), alpha_bar against a plain loop over prod(1 - beta_s),
// alpha_bar[0] = 1 - beta[0], alpha_bar[T-1] tiny for every schedule (x_T is nearly pure noise),
// and SNR against its definition. Known mistakes are named: the common slip alpha_bar = prod(beta),
// a product shifted by one step, alpha_bar = alpha (no product), SNR upside down.
// Run one test: build/default/bin/test_02_exercises --gtest_filter='AlphaBar.*:Snr.*'
#include <gtest/gtest.h>

#include <cmath>

#include "02_forward_noising/schedule.hpp"
#include "ch02_reference.hpp"
#include "testing.hpp"

using namespace dm::ch02;
namespace t2 = dm::ch02::test;
using dm::testing::golden;
using dm::testing::tensors_close;

namespace {

// The mistakes alpha_bar is checked against, for this beta.
std::vector<std::pair<std::string, torch::Tensor>> alpha_bar_mistakes(const torch::Tensor& beta) {
  auto correct = torch::cumprod(1 - beta, 0);
  return {
      {"alpha_bar looks like the cumulative product of beta, not of 1 - beta "
       "(alpha_bar_t = prod_s (1 - beta_s))",
       torch::cumprod(beta, 0)},
      {"alpha_bar looks like alpha = 1 - beta itself: take the cumulative product (torch::cumprod)", 1 - beta},
      {"alpha_bar looks like 1 - cumsum(beta), a first-order approximation: take the exact product",
       1 - torch::cumsum(beta, 0)},
      {"alpha_bar is shifted by one step: alpha_bar[0] must be 1 - beta[0] (the product includes s = t)",
       torch::cat({torch::ones({1}, beta.options()), correct.slice(0, 0, -1)})},
      {"alpha_bar looks like the cumulative product of sqrt(1 - beta): that is sqrt(alpha_bar)", correct.sqrt()},
  };
}

}  // namespace

TEST(AlphaBar, MatchesReferenceOnGoldenValues) {
  for (const char* name : kScheduleNames) {
    auto beta = t2::to_tensor(t2::reference_betas(name, 20));
    auto s = make_schedule(beta);
    EXPECT_TRUE(golden(t2::kGolden, std::string("alpha_bar/") + name + "/T=20", s.alpha_bar, 1e-12, 1e-9)) << name;
  }
}

TEST(AlphaBar, IsTheCumulativeProductOfOneMinusBeta) {
  for (const char* name : kScheduleNames) {
    SCOPED_TRACE(name);
    auto beta = t2::to_tensor(t2::reference_betas(name, 1000));
    auto s = make_schedule(beta);
    auto expected = t2::to_tensor(t2::reference_alpha_bar(t2::reference_betas(name, 1000)));
    const auto mistake = t2::diagnose(s.alpha_bar, expected, alpha_bar_mistakes(beta), 1e-6, 1e-12);
    if (!mistake.empty()) ADD_FAILURE() << "likely mistake: " << mistake;
    EXPECT_TRUE(tensors_close(std::string(name) + " alpha_bar against prod_{s<=t} (1 - beta_s)", s.alpha_bar, expected,
                              1e-14, 1e-9));
  }
}

TEST(AlphaBar, FirstEntryIsOneMinusFirstBeta) {
  auto beta = t2::to_tensor({0.1, 0.2, 0.3});
  auto s = make_schedule(beta);
  ASSERT_EQ(s.alpha_bar.numel(), 3);
  const double ab0 = s.alpha_bar[0].item<double>();
  EXPECT_NEAR(ab0, 0.9, 1e-15) << (std::abs(ab0 - 0.1) < 1e-12 ? "alpha_bar[0] equals beta[0]: alpha_bar is the "
                                                                 "product of 1 - beta, not of beta. "
                                   : std::abs(ab0 - 1) < 1e-12 ? "alpha_bar[0] = 1: the product is shifted by one "
                                                                 "step (index t includes beta[t]). "
                                                               : "")
                               << "alpha_bar[0] must be 1 - beta[0]";
  EXPECT_NEAR(s.alpha_bar[2].item<double>(), 0.9 * 0.8 * 0.7, 1e-15) << "alpha_bar[2] = (1 - 0.1)(1 - 0.2)(1 - 0.3)";
}

TEST(AlphaBar, AlphaIsOneMinusBetaAndBetaIsKept) {
  auto beta = t2::to_tensor(t2::reference_betas("linear", 1000));
  auto s = make_schedule(beta);
  EXPECT_TRUE(tensors_close("schedule.beta", s.beta, beta, 0, 0));
  EXPECT_TRUE(tensors_close("schedule.alpha = 1 - beta", s.alpha, 1 - beta, 1e-15, 0));
  EXPECT_EQ(s.T(), 1000);
  EXPECT_EQ(s.alpha_bar.scalar_type(), torch::kFloat64) << "keep alpha_bar in float64";
}

TEST(AlphaBar, FallsFromNearOneToNearZeroForEverySchedule) {
  // x_T ~ N(0, I) needs alpha_bar[T-1] tiny: the data's weight sqrt(alpha_bar) is then < 1e-2.
  for (const char* name : kScheduleNames) {
    auto s = make_schedule(t2::to_tensor(t2::reference_betas(name, 1000)));
    ASSERT_EQ(s.alpha_bar.numel(), 1000) << name;
    auto d = s.alpha_bar.slice(0, 1) - s.alpha_bar.slice(0, 0, -1);
    EXPECT_LT(d.max().item<double>(), 0) << name << ": alpha_bar must strictly decrease (each step keeps 1 - beta < 1)";
    EXPECT_GT(s.alpha_bar[0].item<double>(), 0.999) << name << ": alpha_bar[0] = 1 - beta[0] is close to 1";
    EXPECT_LT(s.alpha_bar[999].item<double>(), 1e-4) << name << ": alpha_bar[T-1] must be tiny so x_T ~ N(0, I)";
    EXPECT_GT(s.alpha_bar[999].item<double>(), 0) << name;
  }
  auto lin = make_schedule(t2::to_tensor(t2::reference_betas("linear", 1000)));
  EXPECT_NEAR(lin.alpha_bar[999].item<double>(), 4.0358e-05, 1e-8) << "linear schedule: alpha_bar[T-1] = 4.04e-05";
}

TEST(Snr, IsAlphaBarOverOneMinusAlphaBar) {
  auto ab = t2::to_tensor({0.999, 0.9, 0.5, 0.1, 4.04e-5});
  auto expected = t2::to_tensor({999.0, 9.0, 1.0, 1.0 / 9.0, 4.04e-5 / (1 - 4.04e-5)});
  auto out = snr(ab);
  const auto mistake = t2::diagnose(
      out, expected,
      {{"SNR is upside down: it is signal variance alpha_bar over noise variance 1 - alpha_bar", (1 - ab) / ab},
       {"SNR uses standard deviations: it is a ratio of variances, alpha_bar / (1 - alpha_bar)",
        ab.sqrt() / (1 - ab).sqrt()},
       {"SNR is alpha_bar / (1 - alpha_bar), not alpha_bar itself", ab}});
  if (!mistake.empty()) ADD_FAILURE() << "likely mistake: " << mistake;
  EXPECT_TRUE(tensors_close("SNR", out, expected, 1e-12, 1e-12));
}

TEST(Snr, MatchesReferenceOnGoldenValuesAndDecreases) {
  for (const char* name : kScheduleNames) {
    auto ab = t2::to_tensor(t2::reference_alpha_bar(t2::reference_betas(name, 20)));
    auto out = snr(ab);
    EXPECT_TRUE(golden(t2::kGolden, std::string("snr/") + name + "/T=20", out, 1e-12, 1e-9)) << name;
    ASSERT_EQ(out.numel(), 20);
    auto d = out.log().slice(0, 1) - out.log().slice(0, 0, -1);
    EXPECT_LT(d.max().item<double>(), 0) << name << ": log SNR must decrease with t";
  }
}
