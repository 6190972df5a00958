// Exercise 02.3: the closed form q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I).
// Checks the reference values (golden), the two scales exactly (naming the usual mistakes:
// alpha_bar for sqrt(alpha_bar), 1 - alpha_bar for its square root, alpha for alpha_bar, t off by
// one), that one shot equals the iterated chain x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) z in
// distribution (mean and variance at 5 standard errors, and a two-sample Kolmogorov-Smirnov test),
// and that x_T of a data-like batch is close to N(0, I) for every schedule while keeping the data's
// sqrt(alpha_bar_T) trace.
// Run one test: build/default/bin/test_02_exercises --gtest_filter='QSample.*'
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
using dm::testing::fixed_uniform;
using dm::testing::golden;
using dm::testing::mc_tol;
using dm::testing::tensors_close;

namespace {

const Schedule& linear() {
  static const Schedule s = t2::reference_schedule("linear");
  return s;
}

// coef[t] for each t, as [B, 1, 1, 1].
torch::Tensor gathered(const torch::Tensor& coef, const torch::Tensor& t) {
  return coef.index_select(0, t).view({-1, 1, 1, 1});
}

}  // namespace

TEST(QSample, MatchesReferenceOnGoldenValues) {
  auto x0 = fixed_normal({4, 1, 6, 6}, 11).clamp(-1, 1);
  auto eps = fixed_normal({4, 1, 6, 6}, 12);
  auto out = q_sample(linear(), x0, torch::tensor({0, 250, 487, 999}, torch::kLong), eps);
  EXPECT_EQ(out.scalar_type(), torch::kFloat32) << "q_sample must keep x0's dtype";
  EXPECT_TRUE(golden(t2::kGolden, "q_sample/linear", out, 1e-5, 1e-5));
  static const Schedule cosine = t2::reference_schedule("cosine");
  out = q_sample(cosine, x0, torch::tensor({3, 500, 998, 999}, torch::kLong), eps);
  EXPECT_TRUE(golden(t2::kGolden, "q_sample/cosine", out, 1e-5, 1e-5));
}

TEST(QSample, ScalesDataBySqrtAlphaBar) {
  const auto& s = linear();
  auto t = torch::tensor({1, 250, 487, 998}, torch::kLong);
  auto x0 = torch::ones({4, 1, 2, 2}, torch::kFloat64);
  auto out = q_sample(s, x0, t, torch::zeros_like(x0));  // no noise: the mean
  auto expected = gathered(s.alpha_bar.sqrt(), t).expand_as(x0);
  const auto mistake = t2::diagnose(
      out, expected,
      {{"x0 is scaled by alpha_bar_t; the mean of q(x_t | x_0) is sqrt(alpha_bar_t) x0",
        gathered(s.alpha_bar, t).expand_as(x0)},
       {"x0 is scaled by sqrt(alpha_t) of one step; it needs sqrt(alpha_bar_t), the product over all steps",
        gathered(s.alpha.sqrt(), t).expand_as(x0)},
       {"t is off by one: use alpha_bar[t], not alpha_bar[t-1]", gathered(s.alpha_bar.sqrt(), t - 1).expand_as(x0)},
       {"t is off by one: use alpha_bar[t], not alpha_bar[t+1]", gathered(s.alpha_bar.sqrt(), t + 1).expand_as(x0)}});
  if (!mistake.empty()) ADD_FAILURE() << "likely mistake: " << mistake;
  EXPECT_TRUE(tensors_close("q_sample(x0 = 1, eps = 0) = sqrt(alpha_bar[t])", out, expected, 1e-12, 1e-9));
}

TEST(QSample, ScalesNoiseBySqrtOneMinusAlphaBar) {
  const auto& s = linear();
  auto t = torch::tensor({1, 250, 487, 998}, torch::kLong);
  auto eps = torch::ones({4, 1, 2, 2}, torch::kFloat64);
  auto out = q_sample(s, torch::zeros_like(eps), t, eps);  // no data: the noise scale
  auto expected = gathered((1 - s.alpha_bar).sqrt(), t).expand_as(eps);
  const auto mistake = t2::diagnose(
      out, expected,
      {{"eps is scaled by 1 - alpha_bar_t, the variance; scale by the standard deviation sqrt(1 - alpha_bar_t)",
        gathered(1 - s.alpha_bar, t).expand_as(eps)},
       {"eps is scaled by sqrt(beta_t) of one step; the accumulated noise is sqrt(1 - alpha_bar_t)",
        gathered(s.beta.sqrt(), t).expand_as(eps)},
       {"t is off by one: use alpha_bar[t], not alpha_bar[t-1]",
        gathered((1 - s.alpha_bar).sqrt(), t - 1).expand_as(eps)},
       {"t is off by one: use alpha_bar[t], not alpha_bar[t+1]",
        gathered((1 - s.alpha_bar).sqrt(), t + 1).expand_as(eps)}});
  if (!mistake.empty()) ADD_FAILURE() << "likely mistake: " << mistake;
  EXPECT_TRUE(tensors_close("q_sample(x0 = 0, eps = 1) = sqrt(1 - alpha_bar[t])", out, expected, 1e-12, 1e-9));
}

TEST(QSample, KeepsShapeAndDtypeForAnyRank) {
  const auto& s = linear();
  auto x0 = fixed_normal({3, 5}, 3);
  auto eps = fixed_normal({3, 5}, 4);
  auto t = torch::tensor({0, 10, 999}, torch::kLong);
  auto out = q_sample(s, x0, t, eps);
  ASSERT_EQ(out.sizes(), x0.sizes()) << "q_sample must return x0's shape (use extract to broadcast)";
  EXPECT_EQ(out.scalar_type(), torch::kFloat32);
  auto ab = s.alpha_bar.index_select(0, t).view({3, 1});
  EXPECT_TRUE(tensors_close("q_sample on [3, 5]", out, (ab.sqrt() * x0 + (1 - ab).sqrt() * eps).to(torch::kFloat32),
                            1e-6, 1e-5));
}

// One shot and T steps of the chain must give the same law of x_t given x_0.
TEST(QSample, MatchesIteratedChainInDistribution) {
  const auto& s = linear();
  const std::int64_t n = 50000;  // draws per starting value
  // Two starting values, as two columns: [n, 2] -> q_sample sees a batch of 2n scalars.
  auto x0 = torch::tensor({-0.9, 0.6}, torch::kFloat64).repeat({n, 1});  // [n, 2]
  auto gen = at::detail::createCPUGenerator(/*seed_in=*/2024);
  auto chain = x0.clone();
  std::int64_t next = 0;
  const std::vector<std::int64_t> checks = {1, 10, 250, 999};
  const auto beta = s.beta.accessor<double, 1>();
  for (std::int64_t step = 0; step <= checks.back(); ++step) {
    // the chain, written out here: x <- sqrt(1 - beta_t) x + sqrt(beta_t) z
    chain = std::sqrt(1 - beta[step]) * chain +
            std::sqrt(beta[step]) * torch::randn(chain.sizes(), gen, torch::TensorOptions(torch::kFloat64));
    if (step != checks[static_cast<std::size_t>(next)]) continue;
    ++next;
    const std::int64_t t = step;
    auto eps = fixed_normal({n * 2}, 100 + static_cast<std::uint64_t>(t)).to(torch::kFloat64).view({n, 2});
    auto flat_x0 = x0.reshape({n * 2, 1});
    auto shot = q_sample(s, flat_x0, t2::steps(n * 2, t), eps.reshape({n * 2, 1})).reshape({n, 2});
    ASSERT_EQ(shot.sizes(), x0.sizes());
    const double ab = s.alpha_bar[t].item<double>();
    for (int col = 0; col < 2; ++col) {
      const double start = col == 0 ? -0.9 : 0.6;
      const auto a = t2::moments(shot.select(1, col));
      const auto c = t2::moments(chain.select(1, col));
      const double var = 1 - ab;
      const auto where = fmt::format("t = {}, x0 = {}: ", t, start);
      // difference of two independent means: standard error sqrt(2 var / n)
      EXPECT_NEAR(a.mean, c.mean, mc_tol(std::sqrt(2 * var), n))
          << where << "mean of q_sample " << a.mean << " vs iterated chain " << c.mean
          << " (exact sqrt(alpha_bar) x0 = " << std::sqrt(ab) * start << ")";
      EXPECT_NEAR(a.var, c.var, 5 * std::sqrt(2.0) * t2::var_se(var, n))
          << where << "variance of q_sample " << a.var << " vs iterated chain " << c.var
          << " (exact 1 - alpha_bar = " << var << ")";
      EXPECT_NEAR(c.mean, std::sqrt(ab) * start, mc_tol(std::sqrt(var), n)) << where << "the test's own chain drifted";
      const double ks = t2::ks_statistic(shot.select(1, col), chain.select(1, col));
      EXPECT_LT(ks, t2::ks_critical(n, n)) << where << "Kolmogorov-Smirnov distance between q_sample and the chain";
    }
  }
}

// x_T of a data-like batch is close to N(0, I) for every schedule.
TEST(QSample, AtTheLastStepIsCloseToStandardNormal) {
  // Fashion-MNIST-like: half the pixels background (-1), the rest uniform in [-1, 1].
  auto u = fixed_uniform({256, 1, 28, 28}, 7, 0, 1);
  auto x0 = torch::where(u < 0.5, torch::full_like(u, -1.0), 4 * u - 3);
  auto eps = fixed_normal({256, 1, 28, 28}, 8);
  const std::int64_t n = x0.numel();
  for (const char* name : kScheduleNames) {
    const auto s = t2::reference_schedule(name);
    auto xT = q_sample(s, x0, t2::steps(256, 999), eps);
    ASSERT_EQ(xT.sizes(), x0.sizes());
    const auto m = t2::moments(xT);
    // "close to N(0, I)": the data's leftover weight sqrt(alpha_bar) < 0.01, plus sampling error
    EXPECT_NEAR(m.mean, 0, 0.01 + mc_tol(1, n)) << name << ": mean of x_T";
    EXPECT_NEAR(m.var, 1, 0.01 + 5 * t2::var_se(1, n)) << name << ": variance of x_T";
    // ... and yet x_T still holds the data's trace sqrt(alpha_bar_T) x0: returning eps alone (or
    // dropping x0) passes the two moment checks above, but not this one. With eps known, the
    // projection of x_T - sqrt(1 - alpha_bar_T) eps on x0 is sqrt(alpha_bar_T) exactly.
    const double ab = s.alpha_bar[999].item<double>();
    auto x0d = x0.to(torch::kFloat64), epsd = eps.to(torch::kFloat64);
    const double trace = ((xT.to(torch::kFloat64) - std::sqrt(1 - ab) * epsd) * x0d).sum().item<double>() /
                         (x0d * x0d).sum().item<double>();
    EXPECT_NEAR(trace, std::sqrt(ab), 1e-3 * std::sqrt(ab))
        << name << ": x_T must keep sqrt(alpha_bar_T) x0 = " << std::sqrt(ab)
        << " x0 of the data (float32 rounding allows 0.1%); got " << trace << " x0";
  }
}
