// Exercise 02.1: the linear, cosine and sigmoid beta schedules.
// Checks the values against the reference (golden) and against the papers' formulas,
// the cosine schedule's alpha_bar against cos^2, its clipping at 0.999, and the shape,
// dtype, range and monotonicity of every schedule.
// Run one test: build/default/bin/test_02_exercises --gtest_filter='BetaSchedules.*'
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "02_forward_noising/schedule.hpp"
#include "ch02_reference.hpp"
#include "dm/runtime.hpp"
#include "testing.hpp"

using namespace dm::ch02;
namespace t2 = dm::ch02::test;
using dm::testing::golden;
using dm::testing::tensors_close;

namespace {

torch::Tensor by_name(const std::string& name, std::int64_t T) {
  if (name == "linear") return linear_beta_schedule(T);
  if (name == "cosine") return cosine_beta_schedule(T);
  return sigmoid_beta_schedule(T);
}

// A few indices of a [1000] schedule: both ends, the middle, the steps the course quotes.
torch::Tensor pick(const torch::Tensor& beta) {
  auto idx = torch::tensor({0, 1, 2, 10, 100, 250, 487, 500, 750, 900, 998, 999}, torch::kLong);
  return beta.index_select(0, idx);
}

}  // namespace

TEST(BetaSchedules, MatchReferenceOnGoldenValues) {
  for (const char* name : kScheduleNames) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(golden(t2::kGolden, std::string("beta/") + name + "/T=20", by_name(name, 20), 1e-12, 1e-9));
    EXPECT_TRUE(
        golden(t2::kGolden, std::string("beta/") + name + "/T=1000/picked", pick(by_name(name, 1000)), 1e-12, 1e-9));
  }
}

TEST(BetaSchedules, AreFloat64VectorsOfLengthT) {
  for (const char* name : kScheduleNames) {
    for (std::int64_t T : {2, 7, 1000}) {
      auto beta = by_name(name, T);
      ASSERT_EQ(beta.dim(), 1) << name << ", T = " << T << ": beta must be a [T] vector";
      EXPECT_EQ(beta.size(0), T) << name << ", T = " << T << ": beta must have T entries, one per step";
      EXPECT_EQ(beta.scalar_type(), torch::kFloat64)
          << name << ": build schedules in float64 (kFloat64); float32 loses alpha_bar's small values";
    }
  }
}

TEST(BetaSchedules, LinearRunsFromBetaStartToBetaEndInEqualSteps) {
  auto beta = linear_beta_schedule(1000);
  ASSERT_EQ(beta.numel(), 1000);
  EXPECT_NEAR(beta[0].item<double>(), 1e-4, 1e-15) << "beta[0] must be beta_start";
  EXPECT_NEAR(beta[999].item<double>(), 0.02, 1e-15) << "beta[T-1] must be beta_end (T points, both ends included)";
  auto diffs = beta.slice(0, 1) - beta.slice(0, 0, -1);
  EXPECT_TRUE(tensors_close("linear beta spacing", diffs, torch::full_like(diffs, (0.02 - 1e-4) / 999), 1e-15, 1e-9));
  EXPECT_TRUE(tensors_close("linear beta, other end points", linear_beta_schedule(5, 0.1, 0.5),
                            t2::to_tensor({0.1, 0.2, 0.3, 0.4, 0.5}), 1e-15, 1e-12));
}

TEST(BetaSchedules, CosineAlphaBarFollowsTheSquaredCosine) {
  const std::int64_t T = 1000;
  const double s = 0.008, pi = 3.14159265358979323846;
  auto beta = cosine_beta_schedule(T);
  ASSERT_EQ(beta.numel(), T);
  auto alpha_bar = torch::cumprod(1 - beta.to(torch::kFloat64), 0);
  // alpha_bar after steps 0..t is f((t+1)/T) / f(0); the last step is clipped, so compare t < T-1.
  auto f = [&](double u) { return std::pow(std::cos((u + s) / (1 + s) * pi / 2), 2); };
  std::vector<double> expected, without_offset, shifted;
  for (std::int64_t t = 0; t < T - 1; ++t) {
    expected.push_back(f(double(t + 1) / T) / f(0));
    without_offset.push_back(std::pow(std::cos(double(t + 1) / T * pi / 2), 2));
    shifted.push_back(f(double(t) / T) / f(0));
  }
  auto actual = alpha_bar.slice(0, 0, T - 1);
  const auto mistake =
      t2::diagnose(actual, t2::to_tensor(expected),
                   {{"the offset s = 0.008 is missing: use (u + s) / (1 + s)", t2::to_tensor(without_offset)},
                    {"off by one: beta[t] must be 1 - alpha_bar((t+1)/T) / alpha_bar(t/T)", t2::to_tensor(shifted)}},
                   1e-6, 1e-9);
  if (!mistake.empty()) ADD_FAILURE() << "likely mistake in the cosine schedule: " << mistake;
  EXPECT_TRUE(tensors_close("cumprod(1 - cosine beta) against f((t+1)/T) / f(0)", actual, t2::to_tensor(expected),
                            1e-12, 1e-9));
  EXPECT_NEAR(beta[0].item<double>(), 4.1284e-05, 1e-8) << "beta[0] = 1 - f(1/T) / f(0) with s = 0.008";
}

TEST(BetaSchedules, CosineIsClippedAt0999) {
  auto beta = cosine_beta_schedule(1000);
  ASSERT_EQ(beta.numel(), 1000);
  EXPECT_LE(beta.max().item<double>(), 0.999) << "every cosine beta must be clipped to at most max_beta = 0.999";
  EXPECT_DOUBLE_EQ(beta[999].item<double>(), 0.999)
      << "the last step (f(1) = cos^2(pi/2) ~ 0 gives beta ~ 1) must be clipped to exactly 0.999";
  EXPECT_LT(beta[998].item<double>(), 0.999) << "only the last step needs clipping at T = 1000";
  EXPECT_DOUBLE_EQ(cosine_beta_schedule(10, 0.008, 0.5)[9].item<double>(), 0.5) << "max_beta must be honoured";
}

TEST(BetaSchedules, SigmoidRisesSymmetricallyBetweenItsEndPoints) {
  auto beta = sigmoid_beta_schedule(1000);
  ASSERT_EQ(beta.numel(), 1000);
  EXPECT_TRUE(tensors_close("sigmoid beta against sigmoid(linspace(-6, 6, T)) (0.02 - 1e-4) + 1e-4", beta,
                            t2::to_tensor(t2::reference_betas("sigmoid", 1000)), 1e-15, 1e-10));
  // sigmoid(-x) = 1 - sigmoid(x): beta[t] + beta[T-1-t] = beta_start + beta_end
  auto sym = beta + beta.flip(0);
  EXPECT_TRUE(tensors_close("beta[t] + beta[T-1-t]", sym, torch::full_like(sym, 0.0201), 1e-15, 1e-9));
}

TEST(BetaSchedules, AreIncreasingAndBetweenZeroAndOne) {
  for (const char* name : kScheduleNames) {
    auto beta = by_name(name, 1000);
    ASSERT_EQ(beta.numel(), 1000) << name;
    EXPECT_GT(beta.min().item<double>(), 0) << name << ": every step must add some noise (beta > 0)";
    EXPECT_LT(beta.max().item<double>(), 1) << name << ": beta = 1 would erase the signal in one step";
    auto d = beta.slice(0, 1) - beta.slice(0, 0, -1);
    EXPECT_GE(d.min().item<double>(), 0) << name << ": beta must not decrease with t";
  }
}

TEST(BetaSchedules, MatchThePapersFormulasPointwise) {
  for (const char* name : kScheduleNames) {
    EXPECT_TRUE(tensors_close(std::string(name) + " beta against the paper's formula", by_name(name, 1000),
                              t2::to_tensor(t2::reference_betas(name, 1000)), 1e-15, 1e-9));
  }
}

// Ungraded: says which track the tests run on (golden values are recorded only from the solutions;
// referring to dm::track() from an object file also keeps the static link order happy).
TEST(Ch02Setup, ReportsItsTrack) {
  const std::string track = dm::track();
  EXPECT_TRUE(track == "solutions" || track == "exercises") << track;
}
