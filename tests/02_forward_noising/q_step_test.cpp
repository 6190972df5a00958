// Exercise 02.5: one step of the forward chain, x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) z.
// Checks the reference values (golden), the two scales exactly (naming the usual mistakes:
// 1 - beta for its square root, beta for its square root, t off by one), and that iterating the
// step from x_0 through steps 0..t gives N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I) at
// several t (mean and variance at 5 standard errors).
// Run one test: build/default/bin/test_02_exercises --gtest_filter='QStep.*'
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/core.h>

#include <cmath>

#include "02_forward_noising/forward.hpp"
#include "ch02_reference.hpp"
#include "testing.hpp"

using namespace dm::ch02;
namespace t2 = dm::ch02::test;
using dm::testing::fixed_normal;
using dm::testing::golden;
using dm::testing::mc_tol;
using dm::testing::tensors_close;

namespace {

const Schedule& linear() {
  static const Schedule s = t2::reference_schedule("linear");
  return s;
}

torch::Tensor gathered(const torch::Tensor& coef, const torch::Tensor& t) {
  return coef.index_select(0, t).view({-1, 1, 1, 1});
}

}  // namespace

TEST(QStep, MatchesReferenceOnGoldenValues) {
  auto x = fixed_normal({4, 1, 5, 5}, 31);
  auto z = fixed_normal({4, 1, 5, 5}, 32);
  auto out = q_step(linear(), x, torch::tensor({0, 1, 487, 999}, torch::kLong), z);
  EXPECT_EQ(out.scalar_type(), torch::kFloat32) << "q_step must keep the dtype of x_prev";
  EXPECT_TRUE(golden(t2::kGolden, "q_step/linear", out, 1e-5, 1e-5));
}

TEST(QStep, ShrinksBySqrtOneMinusBetaAndAddsSqrtBetaNoise) {
  const auto& s = linear();
  auto t = torch::tensor({1, 250, 487, 998}, torch::kLong);
  auto ones = torch::ones({4, 1, 2, 2}, torch::kFloat64);
  auto keep = q_step(s, ones, t, torch::zeros_like(ones));
  auto expected_keep = gathered(s.alpha.sqrt(), t).expand_as(ones);
  auto mistake = t2::diagnose(
      keep, expected_keep,
      {{"x_{t-1} is scaled by 1 - beta_t; the mean of one step is sqrt(1 - beta_t) x_{t-1}",
        gathered(s.alpha, t).expand_as(ones)},
       {"x_{t-1} is scaled by sqrt(alpha_bar_t): that is q(x_t | x_0), one step uses sqrt(1 - beta_t)",
        gathered(s.alpha_bar.sqrt(), t).expand_as(ones)},
       {"t is off by one: step t uses beta[t], not beta[t-1]", gathered(s.alpha.sqrt(), t - 1).expand_as(ones)},
       {"t is off by one: step t uses beta[t], not beta[t+1]", gathered(s.alpha.sqrt(), t + 1).expand_as(ones)}});
  if (!mistake.empty()) ADD_FAILURE() << "likely mistake: " << mistake;
  EXPECT_TRUE(tensors_close("q_step(x = 1, z = 0) = sqrt(1 - beta[t])", keep, expected_keep, 1e-12, 1e-9));

  auto add = q_step(s, torch::zeros_like(ones), t, ones);
  auto expected_add = gathered(s.beta.sqrt(), t).expand_as(ones);
  mistake = t2::diagnose(
      add, expected_add,
      {{"z is scaled by beta_t, the variance; scale by the standard deviation sqrt(beta_t)",
        gathered(s.beta, t).expand_as(ones)},
       {"z is scaled by sqrt(1 - alpha_bar_t): that is q(x_t | x_0), one step adds sqrt(beta_t) z",
        gathered((1 - s.alpha_bar).sqrt(), t).expand_as(ones)},
       {"t is off by one: step t uses beta[t], not beta[t-1]", gathered(s.beta.sqrt(), t - 1).expand_as(ones)},
       {"t is off by one: step t uses beta[t], not beta[t+1]", gathered(s.beta.sqrt(), t + 1).expand_as(ones)}});
  if (!mistake.empty()) ADD_FAILURE() << "likely mistake: " << mistake;
  EXPECT_TRUE(tensors_close("q_step(x = 0, z = 1) = sqrt(beta[t])", add, expected_add, 1e-12, 1e-9));
}

TEST(QStep, IteratedFromTheDataGivesTheClosedFormLaw) {
  const auto& s = linear();
  const std::int64_t n = 50000;
  const double x0 = 0.8;
  auto x = torch::full({n, 1}, x0, torch::kFloat64);
  auto gen = at::detail::createCPUGenerator(/*seed_in=*/7);
  const std::vector<std::int64_t> checks = {0, 1, 10, 250, 999};
  std::size_t next = 0;
  for (std::int64_t t = 0; t <= checks.back(); ++t) {
    x = q_step(s, x, t2::steps(n, t), torch::randn({n, 1}, gen, torch::TensorOptions(torch::kFloat64)));
    ASSERT_EQ(x.sizes(), (std::vector<std::int64_t>{n, 1}));
    if (t != checks[next]) continue;
    ++next;
    const double ab = s.alpha_bar[t].item<double>();
    const auto m = t2::moments(x);
    const auto where = fmt::format("after steps 0..{}: ", t);
    EXPECT_NEAR(m.mean, std::sqrt(ab) * x0, mc_tol(std::sqrt(1 - ab), n))
        << where << "mean of the chain vs sqrt(alpha_bar_t) x0";
    EXPECT_NEAR(m.var, 1 - ab, 5 * t2::var_se(1 - ab, n)) << where << "variance of the chain vs 1 - alpha_bar_t";
  }
}
