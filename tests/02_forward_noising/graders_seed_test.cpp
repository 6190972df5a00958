// Chapter 02 at the grader's seed: one test per function of every exercise, on inputs drawn at run time
// from DM_GRADE_SEED (`./course grade` draws it; dm::testing::seeded_*): the schedule length T, the
// schedules' parameters, a random beta (not one of the three named schedules), the timesteps (always
// one near t = 0 and one near T - 1), the data and the noise. Outputs hard-coded for the fixed inputs of
// the other tests do not pass. Each checks against a truth computed here by plain loops in double: the
// papers' schedule formulas, prod(1 - beta_s), alpha_bar / (1 - alpha_bar), the closed form of
// q(x_t | x_0), the posterior by completing the square (precision and mean written out independently),
// coef_x0 x0 + coef_xt xt with arbitrary coefficients, and one step of the chain.
// Every failure message ends with the seed, so `./course grade --seed N` repeats it.
// Run: DM_GRADE_SEED=7 build/default/bin/test_02_solutions --gtest_filter='*AtTheGradersSeed'
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "02_forward_noising/forward.hpp"
#include "02_forward_noising/posterior.hpp"
#include "02_forward_noising/schedule.hpp"
#include "ch02_reference.hpp"
#include "testing.hpp"

using namespace dm::ch02;
namespace t2 = dm::ch02::test;
using dm::testing::seed_note;
using dm::testing::seeded_normal;
using dm::testing::seeded_scalar;
using dm::testing::tensors_close;

namespace {

std::int64_t seeded_int(std::int64_t lo, std::int64_t hi, std::uint64_t salt) {
  return dm::testing::seeded_steps(1, lo, hi, salt)[0].item<std::int64_t>();
}
double seeded_log(std::uint64_t salt, double lo, double hi) {
  return std::exp(seeded_scalar(salt, std::log(lo), std::log(hi)));
}
std::vector<double> seeded_doubles(std::int64_t n, std::uint64_t salt, double lo, double hi) {
  auto u = dm::testing::seeded_uniform({n}, salt, lo, hi).to(torch::kFloat64).contiguous();
  return {u.data_ptr<double>(), u.data_ptr<double>() + n};
}
std::vector<double> values(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

// A random schedule of T steps: beta uniform in [1e-4, 0.04] in no particular order (so neighbouring
// steps differ and an index off by one shows), alpha_bar by a plain running product.
Schedule seeded_schedule(std::int64_t T, std::uint64_t salt) {
  const auto beta = seeded_doubles(T, salt, 1e-4, 0.04);
  const auto b = t2::to_tensor(beta);
  return Schedule{b, 1 - b, t2::to_tensor(t2::reference_alpha_bar(beta))};
}

// [B] timesteps in t_min..T-1: one in the first few steps (alpha_bar ~ 1, 1 - alpha_bar ~ beta), one in the
// last few (alpha_bar tiny), the rest anywhere.
torch::Tensor seeded_timesteps(std::int64_t B, std::int64_t T, std::uint64_t salt, std::int64_t t_min = 0) {
  auto t = dm::testing::seeded_steps(B, t_min, T - 1, salt);
  t[0].fill_(seeded_int(t_min, t_min + 3, salt + 1));
  t[1].fill_(seeded_int(std::max<std::int64_t>(0, T - 4), T - 1, salt + 2));
  return t;
}

std::string list(const torch::Tensor& t) {
  std::string s;
  for (auto v : values(t)) s += (s.empty() ? "" : ", ") + std::to_string(static_cast<std::int64_t>(v));
  return "[" + s + "]";
}

// coef[t_b] for each example b, by a loop, shaped [B, 1, ..., 1] (rank of x), float64.
torch::Tensor per_example(const torch::Tensor& coef, const torch::Tensor& t, std::int64_t rank) {
  const auto c = values(coef);
  std::vector<double> out;
  for (auto v : values(t)) out.push_back(c[static_cast<std::size_t>(v)]);
  std::vector<std::int64_t> shape(static_cast<std::size_t>(rank), 1);
  shape[0] = t.size(0);
  return t2::to_tensor(out).reshape(shape);
}

// The coefficients (a_b, b_b) of out_b = a_b u_b + b_b v_b for every example b, by least squares in double
// (u, v: independent noise, so the 2 x 2 normal equations are well conditioned).
std::vector<std::pair<double, double>> coefficients(const torch::Tensor& out, const torch::Tensor& u,
                                                    const torch::Tensor& v) {
  auto o = out.to(torch::kFloat64).flatten(1), uu = u.to(torch::kFloat64).flatten(1);
  auto vv = v.to(torch::kFloat64).flatten(1);
  const auto suu = values((uu * uu).sum(1)), svv = values((vv * vv).sum(1)), suv = values((uu * vv).sum(1));
  const auto suo = values((uu * o).sum(1)), svo = values((vv * o).sum(1));
  std::vector<std::pair<double, double>> ab;
  for (std::size_t b = 0; b < suu.size(); ++b) {
    const double det = suu[b] * svv[b] - suv[b] * suv[b];
    ab.emplace_back((svv[b] * suo[b] - suv[b] * svo[b]) / det, (suu[b] * svo[b] - suv[b] * suo[b]) / det);
  }
  return ab;
}

// A coefficient per example: its value, and the known wrong values it is checked against.
using Candidates = std::vector<std::pair<std::string, std::vector<double>>>;
bool near(double a, double b) { return std::abs(a - b) <= 1e-9 * (1 + std::abs(b)); }
// The label of the first candidate that explains every example where `got` differs from `truth`.
std::string explain(const std::vector<double>& got, const std::vector<double>& truth, const Candidates& wrong) {
  bool differs = false;
  for (std::size_t b = 0; b < got.size(); ++b) differs = differs || !near(got[b], truth[b]);
  if (!differs) return "";
  for (const auto& [label, w] : wrong) {
    bool all = true;
    for (std::size_t b = 0; b < got.size(); ++b) all = all && (near(got[b], truth[b]) || near(got[b], w[b]));
    if (all) return label;
  }
  return "";
}
// coef[t_b + shift] for each example (NaN outside 0..T-1)
std::vector<double> pick(const torch::Tensor& coef, const torch::Tensor& t, std::int64_t shift = 0) {
  const auto c = values(coef);
  std::vector<double> out;
  for (double v : values(t)) {
    const auto i = static_cast<std::int64_t>(v) + shift;
    out.push_back(i >= 0 && i < static_cast<std::int64_t>(c.size()) ? c[static_cast<std::size_t>(i)] : std::nan(""));
  }
  return out;
}
std::vector<double> each(std::vector<double> v, double (*f)(double)) {
  for (double& x : v) x = f(x);
  return v;
}
double sqrt_of(double x) { return std::sqrt(x); }
double one_minus(double x) { return 1 - x; }
double sqrt_one_minus(double x) { return std::sqrt(1 - x); }
double one(double) { return 1; }

}  // namespace

// ---- 02.1 ------------------------------------------------------------------------------------------

TEST(BetaSchedules, LinearMatchesTheFormulaAtTheGradersSeed) {
  const auto T = seeded_int(2, 2000, 2101);
  const double b0 = seeded_log(2102, 1e-5, 1e-3), b1 = seeded_scalar(2103, 5e-3, 0.05);
  const auto beta = linear_beta_schedule(T, b0, b1);
  const auto where =
      "T = " + std::to_string(T) + ", beta_start = " + std::to_string(b0) + ", beta_end = " + std::to_string(b1);
  ASSERT_EQ(beta.dim(), 1) << where << seed_note();
  ASSERT_EQ(beta.size(0), T) << "likely mistake: beta must have T entries, one per step (" << where << ")"
                             << seed_note();
  EXPECT_EQ(beta.scalar_type(), torch::kFloat64)
      << "likely mistake: build schedules in float64 (kFloat64); float32 loses alpha_bar's small values" << seed_note();
  std::vector<double> expected, no_end, scaled;
  for (std::int64_t t = 0; t < T; ++t) {
    expected.push_back(b0 + (b1 - b0) * double(t) / double(T - 1));
    no_end.push_back(b0 + (b1 - b0) * double(t) / double(T));
    scaled.push_back(std::pow(std::sqrt(b0) + (std::sqrt(b1) - std::sqrt(b0)) * double(t) / double(T - 1), 2));
  }
  const auto mistake = t2::diagnose(
      beta, t2::to_tensor(expected),
      {{"beta[T-1] must be beta_end: T points from beta_start to beta_end, both ends included", t2::to_tensor(no_end)},
       {"beta is linear in t, not sqrt(beta) (that is diffusers' scaled_linear)", t2::to_tensor(scaled)}},
      1e-6, 1e-12);
  if (!mistake.empty()) ADD_FAILURE() << "likely mistake: " << mistake << seed_note();
  EXPECT_TRUE(tensors_close("linear beta against beta_start + (beta_end - beta_start) t / (T - 1) (" + where + ")",
                            beta, t2::to_tensor(expected), 1e-15, 1e-12))
      << seed_note();
}

TEST(BetaSchedules, CosineMatchesTheSquaredCosineAtTheGradersSeed) {
  const auto T = seeded_int(2, 2000, 2111);
  const double s = seeded_scalar(2112, 1e-3, 0.05), max_beta = seeded_scalar(2113, 0.5, 0.999);
  const auto beta = cosine_beta_schedule(T, s, max_beta);
  const auto where =
      "T = " + std::to_string(T) + ", s = " + std::to_string(s) + ", max_beta = " + std::to_string(max_beta);
  ASSERT_EQ(beta.dim(), 1) << where << seed_note();
  ASSERT_EQ(beta.size(0), T) << "likely mistake: beta must have T entries, one per step (" << where << ")"
                             << seed_note();
  EXPECT_EQ(beta.scalar_type(), torch::kFloat64)
      << "likely mistake: build schedules in float64 (kFloat64)" << seed_note();
  const double pi = 3.14159265358979323846;
  auto g = [&](double u) { return std::cos((u + s) / (1 + s) * pi / 2); };
  auto f = [&](double u) { return std::pow(g(u), 2); };
  std::vector<double> expected, no_offset, no_clip, shifted, not_squared, not_ratio;
  for (std::int64_t t = 0; t < T; ++t) {
    const double u0 = double(t) / double(T), u1 = double(t + 1) / double(T);
    const double b = 1 - f(u1) / f(u0);
    expected.push_back(std::min(b, max_beta));
    no_clip.push_back(b);
    no_offset.push_back(std::min(1 - std::pow(std::cos(u1 * pi / 2) / std::cos(u0 * pi / 2), 2), max_beta));
    shifted.push_back(std::min(t == 0 ? 1 - f(0.0) : 1 - f(u0) / f(double(t - 1) / double(T)), max_beta));
    not_squared.push_back(std::min(1 - g(u1) / g(u0), max_beta));
    not_ratio.push_back(std::min(1 - f(u1) / f(0.0), max_beta));
  }
  const auto mistake = t2::diagnose(
      beta, t2::to_tensor(expected),
      {{"the offset s is missing: f(u) = cos^2((u + s) / (1 + s) pi / 2)", t2::to_tensor(no_offset)},
       {"beta is not clipped to max_beta", t2::to_tensor(no_clip)},
       {"off by one: beta[t] = 1 - alpha_bar((t+1)/T) / alpha_bar(t/T)", t2::to_tensor(shifted)},
       {"alpha_bar follows the squared cosine: f(u) = cos^2(...), square the cosine", t2::to_tensor(not_squared)},
       {"beta[t] = 1 - alpha_bar((t+1)/T) / alpha_bar(t/T), the ratio of neighbours, not 1 - alpha_bar",
        t2::to_tensor(not_ratio)}},
      1e-6, 1e-9);
  if (!mistake.empty()) ADD_FAILURE() << "likely mistake: " << mistake << seed_note();
  // 1 - (a ratio near 1) loses ~1e-16 absolute; beta[0] ~ 1e-5 at the largest T
  EXPECT_TRUE(tensors_close("cosine beta against min(1 - f((t+1)/T) / f(t/T), max_beta) (" + where + ")", beta,
                            t2::to_tensor(expected), 1e-13, 1e-9))
      << seed_note();
}

TEST(BetaSchedules, SigmoidMatchesTheLogisticRampAtTheGradersSeed) {
  const auto T = seeded_int(2, 2000, 2121);
  const double b0 = seeded_log(2122, 1e-5, 1e-3), b1 = seeded_scalar(2123, 5e-3, 0.05);
  const auto beta = sigmoid_beta_schedule(T, b0, b1);
  const auto where =
      "T = " + std::to_string(T) + ", beta_start = " + std::to_string(b0) + ", beta_end = " + std::to_string(b1);
  ASSERT_EQ(beta.dim(), 1) << where << seed_note();
  ASSERT_EQ(beta.size(0), T) << "likely mistake: beta must have T entries, one per step (" << where << ")"
                             << seed_note();
  EXPECT_EQ(beta.scalar_type(), torch::kFloat64)
      << "likely mistake: build schedules in float64 (kFloat64)" << seed_note();
  std::vector<double> expected, unshifted;
  for (std::int64_t t = 0; t < T; ++t) {
    const double x = -6 + 12 * double(t) / double(T - 1);  // T points from -6 to 6
    expected.push_back(b0 + (b1 - b0) / (1 + std::exp(-x)));
    unshifted.push_back(b1 / (1 + std::exp(-x)));
  }
  const auto mistake = t2::diagnose(
      beta, t2::to_tensor(expected),
      {{"the sigmoid is mapped onto [beta_start, beta_end]: beta_start + (beta_end - beta_start) sigmoid(x)",
        t2::to_tensor(unshifted)}},
      1e-6, 1e-12);
  if (!mistake.empty()) ADD_FAILURE() << "likely mistake: " << mistake << seed_note();
  EXPECT_TRUE(tensors_close(
      "sigmoid beta against beta_start + (beta_end - beta_start) sigmoid(-6 + 12 t / (T - 1)) (" + where + ")", beta,
      t2::to_tensor(expected), 1e-15, 1e-10))
      << seed_note();
}

// ---- 02.2 ------------------------------------------------------------------------------------------

TEST(AlphaBar, IsTheRunningProductAtTheGradersSeed) {
  const auto T = seeded_int(2, 1000, 2201);
  const auto beta_v = seeded_doubles(T, 2202, 1e-4, 0.05);
  const auto beta = t2::to_tensor(beta_v);
  const auto s = make_schedule(beta);
  ASSERT_TRUE(s.alpha.defined() && s.alpha_bar.defined()) << seed_note();
  ASSERT_EQ(s.alpha_bar.numel(), T) << "T = " << T << seed_note();
  EXPECT_EQ(s.alpha_bar.scalar_type(), torch::kFloat64)
      << "likely mistake: keep alpha_bar in float64 (a product of up to 1000 factors)" << seed_note();
  std::vector<double> alpha;
  for (double b : beta_v) alpha.push_back(1 - b);
  const auto expected = t2::to_tensor(t2::reference_alpha_bar(beta_v));
  const auto shifted = torch::cat({torch::ones({1}, torch::kFloat64), expected.slice(0, 0, -1)});
  const auto mistake =
      t2::diagnose(s.alpha_bar, expected,
                   {{"alpha_bar looks like the cumulative product of beta, not of 1 - beta", torch::cumprod(beta, 0)},
                    {"alpha_bar looks like alpha = 1 - beta itself: take the cumulative product", 1 - beta},
                    {"alpha_bar is shifted by one step: alpha_bar[t] includes step t itself", shifted},
                    {"alpha_bar looks like 1 - cumsum(beta), a first-order approximation", 1 - torch::cumsum(beta, 0)},
                    {"alpha_bar looks like the cumulative product of sqrt(1 - beta): alpha is 1 - beta itself",
                     torch::cumprod((1 - beta).sqrt(), 0)}},
                   1e-6, 1e-12);
  if (!mistake.empty()) ADD_FAILURE() << "likely mistake: " << mistake << seed_note();
  EXPECT_TRUE(tensors_close("schedule.beta (T = " + std::to_string(T) + ")", s.beta, beta, 0, 0)) << seed_note();
  EXPECT_TRUE(tensors_close("schedule.alpha = 1 - beta", s.alpha, t2::to_tensor(alpha), 1e-16, 0)) << seed_note();
  // a product of <= 1000 float64 factors: ~1e-13 relative, whatever the order
  EXPECT_TRUE(tensors_close("alpha_bar against prod_{s<=t} (1 - beta_s) by a loop (T = " + std::to_string(T) + ")",
                            s.alpha_bar, expected, 1e-300, 1e-10))
      << seed_note();
}

TEST(Snr, IsTheRatioOfVariancesAtTheGradersSeed) {
  // alpha_bar anywhere from 1 - 1e-5 down to 1e-5, log-uniformly in both alpha_bar and 1 - alpha_bar
  const auto n = seeded_int(5, 40, 2211);
  auto lo = t2::to_tensor(seeded_doubles(n, 2212, std::log(1e-5), std::log(0.5))).exp();  // alpha_bar or 1 - it
  auto side = dm::testing::seeded_uniform({n}, 2213, 0, 1).to(torch::kFloat64) < 0.5;
  auto ab = torch::where(side, lo, 1 - lo);
  const auto abv = values(ab);
  std::vector<double> expected;
  for (double a : abv) expected.push_back(a / (1 - a));
  const auto out = snr(ab);
  const auto mistake = t2::diagnose(
      out, t2::to_tensor(expected),
      {{"SNR is upside down: it is the signal variance alpha_bar over the noise variance 1 - alpha_bar", (1 - ab) / ab},
       {"SNR uses standard deviations: it is a ratio of variances, alpha_bar / (1 - alpha_bar)",
        ab.sqrt() / (1 - ab).sqrt()},
       {"SNR is alpha_bar / (1 - alpha_bar), not alpha_bar itself", ab}});
  if (!mistake.empty()) ADD_FAILURE() << "likely mistake: " << mistake << seed_note();
  // written as 1 / (1 / alpha_bar - 1) it loses ~1e-16 / (1 - alpha_bar) <= 1e-11 relative
  EXPECT_TRUE(tensors_close("SNR against alpha_bar / (1 - alpha_bar) on " + std::to_string(n) + " values", out,
                            t2::to_tensor(expected), 1e-300, 1e-9))
      << seed_note();
}

// ---- 02.3 ------------------------------------------------------------------------------------------

TEST(QSample, MatchesTheClosedFormAtTheGradersSeed) {
  const auto T = seeded_int(50, 1000, 2301);
  const auto s = seeded_schedule(T, 2302);
  const auto B = seeded_int(3, 8, 2303), C = seeded_int(1, 3, 2304), H = seeded_int(2, 6, 2305);
  const auto t = seeded_timesteps(B, T, 2306, /*t_min=*/1);  // t = 0 below, on its own
  const auto x0 = seeded_normal({B, C, H, H}, 2309), eps = seeded_normal({B, C, H, H}, 2310);
  const auto where = "T = " + std::to_string(T) + ", t = " + list(t);
  const auto ab = per_example(s.alpha_bar, t, 4);  // [B, 1, 1, 1] float64
  auto x0d = x0.to(torch::kFloat64), epsd = eps.to(torch::kFloat64);
  auto expected = ab.sqrt() * x0d + (1 - ab).sqrt() * epsd;
  // float64 data: the coefficients and the sum are exact to ~1e-16
  auto out64 = q_sample(s, x0d, t, epsd);
  ASSERT_EQ(out64.sizes(), x0.sizes()) << where << seed_note();
  EXPECT_EQ(out64.scalar_type(), torch::kFloat64) << "q_sample must keep x0's dtype" << seed_note();
  // which scale does each example's x0 and eps get? (out = a x0 + b eps, solved for a and b)
  std::vector<double> a, b;
  for (auto [ca, cb] : coefficients(out64, x0d, epsd)) {
    a.push_back(ca);
    b.push_back(cb);
  }
  const auto abt = pick(s.alpha_bar, t), sig = each(abt, sqrt_of), noi = each(abt, sqrt_one_minus);
  if (!explain(a, sig, {{"matches", noi}}).empty() && !explain(b, noi, {{"matches", sig}}).empty()) {
    ADD_FAILURE() << "likely mistake: x0 and eps are swapped" << seed_note();
  } else {
    const auto on_x0 =
        explain(a, sig,
                {{"x0 is scaled by alpha_bar_t; the mean of q(x_t | x_0) is sqrt(alpha_bar_t) x0", abt},
                 {"x0 is scaled by sqrt(alpha_t) of one step; it needs sqrt(alpha_bar_t), the product over all steps",
                  each(pick(s.alpha, t), sqrt_of)},
                 {"x0 is not scaled: the mean of q(x_t | x_0) is sqrt(alpha_bar_t) x0, not x0", each(abt, one)},
                 {"t is off by one: use alpha_bar[t], not alpha_bar[t-1]", each(pick(s.alpha_bar, t, -1), sqrt_of)},
                 {"t is off by one: use alpha_bar[t], not alpha_bar[t+1]", each(pick(s.alpha_bar, t, 1), sqrt_of)}});
    if (!on_x0.empty()) ADD_FAILURE() << "likely mistake: " << on_x0 << seed_note();
    const auto on_eps = explain(
        b, noi,
        {{"eps is scaled by 1 - alpha_bar_t, the variance; scale by the standard deviation sqrt(1 - alpha_bar_t)",
          each(abt, one_minus)},
         {"eps is scaled by sqrt(beta_t) of one step; the accumulated noise is sqrt(1 - alpha_bar_t)",
          each(pick(s.beta, t), sqrt_of)},
         {"t is off by one: use alpha_bar[t], not alpha_bar[t-1]", each(pick(s.alpha_bar, t, -1), sqrt_one_minus)},
         {"t is off by one: use alpha_bar[t], not alpha_bar[t+1]", each(pick(s.alpha_bar, t, 1), sqrt_one_minus)}});
    if (!on_eps.empty()) ADD_FAILURE() << "likely mistake: " << on_eps << seed_note();
  }
  EXPECT_TRUE(
      tensors_close("q_sample (float64) against sqrt(alpha_bar[t]) x0 + sqrt(1 - alpha_bar[t]) eps (" + where + ")",
                    out64, expected, 1e-12, 1e-10))
      << seed_note();
  // float32 data: coefficients rounded to float32 (~6e-8) times |x| <= ~5, as for the golden values
  auto out32 = q_sample(s, x0, t, eps);
  ASSERT_EQ(out32.sizes(), x0.sizes()) << where << seed_note();
  EXPECT_EQ(out32.scalar_type(), torch::kFloat32) << "q_sample must keep x0's dtype" << seed_note();
  EXPECT_TRUE(tensors_close("q_sample (float32) against the closed form (" + where + ")", out32, expected, 1e-5, 1e-5))
      << seed_note();
  // the first step: alpha_bar[0] = 1 - beta[0]
  const double beta0 = values(s.beta)[0];
  auto first = q_sample(s, x0d.slice(0, 0, 1), torch::zeros({1}, torch::kLong), epsd.slice(0, 0, 1));
  EXPECT_TRUE(tensors_close(
      "q_sample at t = 0 against sqrt(1 - beta[0]) x0 + sqrt(beta[0]) eps (T = " + std::to_string(T) + ")", first,
      std::sqrt(1 - beta0) * x0d.slice(0, 0, 1) + std::sqrt(beta0) * epsd.slice(0, 0, 1), 1e-12, 1e-10))
      << seed_note();
}

// ---- 02.4 ------------------------------------------------------------------------------------------

TEST(Posterior, CoefficientsCompleteTheSquareAtTheGradersSeed) {
  const auto T = seeded_int(20, 1000, 2401);
  const auto s = seeded_schedule(T, 2402);
  const auto p = make_posterior(s);
  const auto where = "random beta, T = " + std::to_string(T);
  ASSERT_TRUE(p.coef_x0.defined() && p.coef_xt.defined() && p.variance.defined()) << seed_note();
  ASSERT_EQ(p.variance.numel(), T) << where << seed_note();
  ASSERT_EQ(p.coef_x0.numel(), T) << where << seed_note();
  ASSERT_EQ(p.coef_xt.numel(), T) << where << seed_note();
  // q(x_{t-1} | x_t, x_0) ~ N(x_t; sqrt(alpha_t) x_{t-1}, beta_t) N(x_{t-1}; sqrt(ab_{t-1}) x_0, 1 - ab_{t-1}):
  // precision lambda = alpha_t / beta_t + 1 / (1 - ab_{t-1}); variance 1 / lambda; mean (eta_xt x_t + eta_x0 x_0)
  // / lambda with eta_xt = sqrt(alpha_t) / beta_t, eta_x0 = sqrt(ab_{t-1}) / (1 - ab_{t-1}). At t = 0 the data is
  // given exactly (ab_{-1} = 1): variance 0, coefficient 1 on x_0, 0 on x_t.
  const auto beta = values(s.beta), ab = values(s.alpha_bar);
  std::vector<double> var{0.0}, c0{1.0}, ct{0.0}, beta_t{beta[0]}, shifted{0.0},
      upside{std::numeric_limits<double>::infinity()};  // upside down, t = 0 divides by 1 - 1
  std::vector<double> c0_unshifted{std::sqrt(ab[0]) * beta[0] / (1 - ab[0])}, ct_ab{0.0};
  for (std::size_t t = 1; t < beta.size(); ++t) {
    const double alpha = 1 - beta[t], ab_prev = ab[t - 1];
    const double lambda = alpha / beta[t] + 1 / (1 - ab_prev);
    var.push_back(1 / lambda);
    c0.push_back(std::sqrt(ab_prev) / (1 - ab_prev) / lambda);
    ct.push_back(std::sqrt(alpha) / beta[t] / lambda);
    // the known mistakes, for the diagnosis
    beta_t.push_back(beta[t]);
    shifted.push_back(var[t - 1]);
    upside.push_back((1 - ab[t]) / (1 - ab_prev) * beta[t]);
    c0_unshifted.push_back(std::sqrt(ab[t]) * beta[t] / (1 - ab[t]));
    ct_ab.push_back(std::sqrt(ab[t]) * (1 - ab_prev) / (1 - ab[t]));
  }
  auto is = [](const torch::Tensor& got, const std::vector<double>& v, std::int64_t from = 0) {
    return torch::allclose(got.slice(0, from).to(torch::kFloat64), t2::to_tensor(v).slice(0, from), 1e-6, 1e-12);
  };
  const bool var_ok = is(p.variance, var), c0_ok = is(p.coef_x0, c0), ct_ok = is(p.coef_xt, ct);
  if (!var_ok && is(p.variance, beta_t) && is(p.coef_x0, c0_unshifted)) {
    // alpha_bar_prev = alpha_bar (no shift): beta_tilde is then beta_t exactly, and coef_x0 has sqrt(alpha_bar_t)
    ADD_FAILURE() << "likely mistake: alpha_bar_prev is alpha_bar itself: shift it by one step (alpha_bar_prev[t] = "
                     "alpha_bar[t-1], and 1 at t = 0)"
                  << seed_note();
  } else if (!(var_ok && c0_ok && ct_ok) && is(p.variance, var, 1) && is(p.coef_x0, c0, 1) && is(p.coef_xt, ct, 1)) {
    // right for every t >= 1, wrong at t = 0: alpha_bar_prev[0] is not 1
    const double v0 = p.variance[0].item<double>(), wrapped = (1 - ab.back()) / (1 - ab[0]) * beta[0];
    if (std::abs(v0 - wrapped) < 1e-6 * wrapped)
      ADD_FAILURE() << "likely mistake: alpha_bar_prev[0] wrapped around to alpha_bar[T-1] (roll): it must be 1"
                    << seed_note();
    else
      ADD_FAILURE() << "likely mistake: at t = 0 take alpha_bar_prev[0] = 1 (no noise before the first step): "
                       "variance 0, coef_x0 1, coef_xt 0"
                    << seed_note();
  } else {
    const auto mistake = t2::diagnose(
        p.variance, t2::to_tensor(var),
        {{"the posterior variance is beta_t; it must be beta_tilde_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) "
          "beta_t",
          t2::to_tensor(beta_t)},
         {"t is off by one: beta_tilde[t] uses alpha_bar[t-1], alpha_bar[t] and beta[t]", t2::to_tensor(shifted)},
         {"the ratio is upside down: beta_tilde_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t",
          t2::to_tensor(upside)}},
        1e-6, 1e-12);
    if (!mistake.empty()) ADD_FAILURE() << "likely mistake: " << mistake << seed_note();
    if (!c0_ok && !ct_ok && is(p.coef_x0, ct) && is(p.coef_xt, c0)) {
      ADD_FAILURE() << "likely mistake: coef_x0 and coef_xt are swapped" << seed_note();
    } else {
      if (!c0_ok && is(p.coef_x0, c0_unshifted))
        ADD_FAILURE() << "likely mistake: coef_x0 uses sqrt(alpha_bar_t); it needs sqrt(alpha_bar_{t-1}) (x_0's "
                         "weight in x_{t-1})"
                      << seed_note();
      if (!ct_ok && is(p.coef_xt, ct_ab))
        ADD_FAILURE() << "likely mistake: coef_xt uses sqrt(alpha_bar_t); it needs sqrt(alpha_t) of one step"
                      << seed_note();
    }
  }
  // float64 ratios of O(1) and O(beta) terms: ~1e-15 relative either way they are written
  EXPECT_TRUE(
      tensors_close("beta_tilde against 1 / precision (" + where + ")", p.variance, t2::to_tensor(var), 1e-15, 1e-9))
      << seed_note();
  EXPECT_TRUE(
      tensors_close("coef_x0 against eta_x0 / precision (" + where + ")", p.coef_x0, t2::to_tensor(c0), 1e-15, 1e-9))
      << seed_note();
  EXPECT_TRUE(
      tensors_close("coef_xt against eta_xt / precision (" + where + ")", p.coef_xt, t2::to_tensor(ct), 1e-15, 1e-9))
      << seed_note();
}

TEST(Posterior, MeanWeighsDataAndSampleAtTheGradersSeed) {
  // arbitrary coefficient tables: posterior_mean must only pick each example's own entry and combine
  const auto T = seeded_int(10, 1000, 2411);
  const Posterior p{t2::to_tensor(seeded_doubles(T, 2412, 0.0, 1.0)), t2::to_tensor(seeded_doubles(T, 2413, 0.0, 1.0)),
                    t2::to_tensor(seeded_doubles(T, 2414, 0.0, 0.02))};
  const auto B = seeded_int(3, 8, 2415), C = seeded_int(1, 3, 2416), H = seeded_int(2, 6, 2417);
  const auto t = seeded_timesteps(B, T, 2418);
  const auto x0 = seeded_normal({B, C, H, H}, 2421), xt = seeded_normal({B, C, H, H}, 2422);
  const auto where = "T = " + std::to_string(T) + ", t = " + list(t);
  auto c0 = per_example(p.coef_x0, t, 4), ct = per_example(p.coef_xt, t, 4);
  auto x0d = x0.to(torch::kFloat64), xtd = xt.to(torch::kFloat64);
  auto expected = c0 * x0d + ct * xtd;
  auto out64 = posterior_mean(p, x0d, xtd, t);
  ASSERT_EQ(out64.sizes(), xt.sizes()) << where << seed_note();
  const auto mistake = t2::diagnose(out64, expected, {{"x0 and xt are swapped", c0 * xtd + ct * x0d}}, 1e-6, 1e-9);
  if (!mistake.empty()) ADD_FAILURE() << "likely mistake: " << mistake << seed_note();
  EXPECT_TRUE(tensors_close("posterior_mean (float64) against coef_x0[t] x0 + coef_xt[t] xt (" + where + ")", out64,
                            expected, 1e-12, 1e-10))
      << seed_note();
  auto out32 = posterior_mean(p, x0, xt, t);
  ASSERT_EQ(out32.sizes(), xt.sizes()) << where << seed_note();
  EXPECT_EQ(out32.scalar_type(), torch::kFloat32) << "posterior_mean must keep the data's dtype" << seed_note();
  // coefficients <= 1 rounded to float32, |x| <= ~5: ~1e-6
  EXPECT_TRUE(tensors_close("posterior_mean (float32) (" + where + ")", out32, expected, 2e-6, 1e-5)) << seed_note();
}

// ---- 02.5 ------------------------------------------------------------------------------------------

TEST(QStep, MatchesOneStepOfTheChainAtTheGradersSeed) {
  const auto T = seeded_int(50, 1000, 2501);
  const auto s = seeded_schedule(T, 2502);
  const auto B = seeded_int(3, 8, 2503), C = seeded_int(1, 3, 2504), H = seeded_int(2, 6, 2505);
  const auto t = seeded_timesteps(B, T, 2506, /*t_min=*/1);  // t = 0 below, on its own
  const auto x = seeded_normal({B, C, H, H}, 2509), z = seeded_normal({B, C, H, H}, 2510);
  const auto where = "T = " + std::to_string(T) + ", t = " + list(t);
  const auto beta = per_example(s.beta, t, 4);
  auto xd = x.to(torch::kFloat64), zd = z.to(torch::kFloat64);
  auto expected = (1 - beta).sqrt() * xd + beta.sqrt() * zd;
  auto out64 = q_step(s, xd, t, zd);
  ASSERT_EQ(out64.sizes(), x.sizes()) << where << seed_note();
  std::vector<double> keep, add;
  for (auto [ca, cb] : coefficients(out64, xd, zd)) {
    keep.push_back(ca);
    add.push_back(cb);
  }
  const auto bt = pick(s.beta, t), abt = pick(s.alpha_bar, t);
  const auto k_ok = each(bt, sqrt_one_minus), a_ok = each(bt, sqrt_of);
  if (!explain(keep, k_ok, {{"matches", each(abt, sqrt_of)}}).empty() &&
      !explain(add, a_ok, {{"matches", each(abt, sqrt_one_minus)}}).empty()) {
    ADD_FAILURE() << "likely mistake: this is q(x_t | x_0) (sqrt(alpha_bar_t), sqrt(1 - alpha_bar_t)); one step "
                     "keeps sqrt(1 - beta_t) x_{t-1} and adds sqrt(beta_t) z"
                  << seed_note();
  } else {
    const auto on_x = explain(
        keep, k_ok,
        {{"x_{t-1} is scaled by 1 - beta_t; one step keeps sqrt(1 - beta_t) x_{t-1}", each(bt, one_minus)},
         {"x_{t-1} is scaled by sqrt(alpha_bar_t): that is q(x_t | x_0); one step keeps sqrt(1 - beta_t) x_{t-1}",
          each(abt, sqrt_of)},
         {"t is off by one: step t uses beta[t], not beta[t-1]", each(pick(s.beta, t, -1), sqrt_one_minus)},
         {"t is off by one: step t uses beta[t], not beta[t+1]", each(pick(s.beta, t, 1), sqrt_one_minus)}});
    if (!on_x.empty()) ADD_FAILURE() << "likely mistake: " << on_x << seed_note();
    const auto on_z =
        explain(add, a_ok,
                {{"z is scaled by beta_t, the variance; scale by the standard deviation sqrt(beta_t)", bt},
                 {"z is scaled by sqrt(1 - alpha_bar_t): that is q(x_t | x_0); one step adds sqrt(beta_t) z",
                  each(abt, sqrt_one_minus)},
                 {"t is off by one: step t uses beta[t], not beta[t-1]", each(pick(s.beta, t, -1), sqrt_of)},
                 {"t is off by one: step t uses beta[t], not beta[t+1]", each(pick(s.beta, t, 1), sqrt_of)}});
    if (!on_z.empty()) ADD_FAILURE() << "likely mistake: " << on_z << seed_note();
  }
  EXPECT_TRUE(tensors_close("q_step (float64) against sqrt(1 - beta[t]) x + sqrt(beta[t]) z (" + where + ")", out64,
                            expected, 1e-12, 1e-10))
      << seed_note();
  auto out32 = q_step(s, x, t, z);
  ASSERT_EQ(out32.sizes(), x.sizes()) << where << seed_note();
  EXPECT_EQ(out32.scalar_type(), torch::kFloat32) << "q_step must keep the dtype of x_prev" << seed_note();
  EXPECT_TRUE(tensors_close("q_step (float32) (" + where + ")", out32, expected, 1e-5, 1e-5)) << seed_note();
  // the first step, from the data
  const double beta0 = values(s.beta)[0];
  auto first = q_step(s, xd.slice(0, 0, 1), torch::zeros({1}, torch::kLong), zd.slice(0, 0, 1));
  EXPECT_TRUE(tensors_close(
      "q_step at t = 0 against sqrt(1 - beta[0]) x + sqrt(beta[0]) z (T = " + std::to_string(T) + ")", first,
      std::sqrt(1 - beta0) * xd.slice(0, 0, 1) + std::sqrt(beta0) * zd.slice(0, 0, 1), 1e-12, 1e-10))
      << seed_note();
}
