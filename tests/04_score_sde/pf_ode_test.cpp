// Exercise 04.5: the probability-flow ODE dx/dt = f - 1/2 g^2 score, Euler and Heun.
// Checks the reference values (golden); the velocity (naming the reverse SDE's g^2 where the ODE
// has 1/2 g^2, and the score's sign); Euler's and Heun's steps against their formulas; that Gaussian
// data, whose flow is linear, x_t = x_1 sqrt(v_t / v_1), are transported exactly; the measured order of
// convergence (Euler ~1, Heun ~2) with the exact ring score; and that Heun with the EXACT score
// brings N(0, I) noise to the ring's mode weights.
// Run one test: build/default/bin/test_04_exercises --gtest_filter='ProbabilityFlow.*'
#include <gtest/gtest.h>

#include <fmt/core.h>

#include <cmath>

#include "04_score_sde/steps.hpp"
#include "ch04_reference.hpp"
#include "testing.hpp"

using namespace dm::ch04;
namespace t4 = dm::ch04::test;
using dm::testing::fixed_normal;
using dm::testing::golden;
using dm::testing::tensors_close;

namespace {
// Integrates the ODE from t = 1 to t_end in N steps with `step` (Euler or Heun).
template <class Step>
torch::Tensor integrate(Step step, const torch::Tensor& x1, double t_end, std::int64_t N) {
  auto x = x1;
  const double h = (1 - t_end) / double(N);
  for (std::int64_t k = 0; k < N; ++k) x = step(x, 1 - double(k) * h, h);
  return x;
}
}  // namespace

TEST(ProbabilityFlow, MatchesReferenceOnGoldenValues) {
  const VpSde sde;
  const auto x = 2 * fixed_normal({6, 2}, 91);
  const auto score = t4::gaussian_score(0.5, 2.0);
  EXPECT_TRUE(golden(t4::kGolden, "pf_ode_velocity", pf_ode_velocity(sde, score, x, 0.4)));
  EXPECT_TRUE(golden(t4::kGolden, "pf_ode_euler_step", pf_ode_euler_step(sde, score, x, 0.4, 0.05)));
  EXPECT_TRUE(golden(t4::kGolden, "pf_ode_heun_step", pf_ode_heun_step(sde, score, x, 0.4, 0.05)));
}

TEST(ProbabilityFlow, VelocityHasHalfTheScoreTermOfTheSde) {
  const VpSde sde;
  const auto x = 2 * fixed_normal({6, 2}, 92).to(torch::kFloat64);
  const auto score = t4::gaussian_score(0.5, 2.0);
  const double t = 0.4, beta = sde.beta(t);
  const auto s = score(x, t);
  const auto v = pf_ode_velocity(sde, score, x, t);
  const auto expected = -0.5 * beta * (x + s);
  const auto m =
      t4::diagnose(v, expected,
                   {{"the probability-flow ODE has 1/2 g^2 grad log p, the reverse SDE has g^2 grad log p",
                     -0.5 * beta * x - beta * s},
                    {"the score's sign: dx/dt = f - 1/2 g^2 score = -beta (x + score) / 2", -0.5 * beta * (x - s)},
                    {"f = -1/2 beta x: the 1/2 belongs to the drift as well", -beta * x - 0.5 * beta * s},
                    {"that is the step's direction (-velocity); return dx/dt itself", 0.5 * beta * (x + s)}});
  if (!m.empty()) ADD_FAILURE() << "likely mistake: " << m;
  EXPECT_TRUE(tensors_close("dx/dt = -beta(t) (x + score) / 2", v, expected, 1e-12, 1e-10));
}

TEST(ProbabilityFlow, EulerAndHeunStepsFollowTheirFormulas) {
  const VpSde sde;
  const auto x = 2 * fixed_normal({6, 2}, 93).to(torch::kFloat64);
  const auto score = t4::gaussian_score(0.5, 2.0);
  const double t = 0.4, h = 0.05;
  auto vel = [&](const torch::Tensor& y, double tt) { return -0.5 * sde.beta(tt) * (y + score(y, tt)); };
  const auto euler = x - h * vel(x, t);
  const auto out_e = pf_ode_euler_step(sde, score, x, t, h);
  auto m = t4::diagnose(out_e, euler, {{"time runs backwards: x' = x - h dx/dt", x + h * vel(x, t)}});
  if (!m.empty()) ADD_FAILURE() << "likely mistake: " << m;
  EXPECT_TRUE(tensors_close("Euler: x - h v(x, t)", out_e, euler, 1e-12, 1e-10));
  const auto heun = x - 0.5 * h * (vel(x, t) + vel(euler, t - h));
  const auto out_h = pf_ode_heun_step(sde, score, x, t, h);
  m = t4::diagnose(out_h, heun,
                   {{"the second velocity is taken at t - h (the end of the step), not at t",
                     x - 0.5 * h * (vel(x, t) + vel(euler, t))},
                    {"Heun averages the two velocities: x - h/2 (v1 + v2), not x - h v2", x - h * vel(euler, t - h)},
                    {"the predictor goes backwards in time too: x~ = x - h v1",
                     x - 0.5 * h * (vel(x, t) + vel(x + h * vel(x, t), t - h))}});
  if (!m.empty()) ADD_FAILURE() << "likely mistake: " << m;
  EXPECT_TRUE(tensors_close("Heun: x - h/2 (v(x, t) + v(x~, t - h))", out_h, heun, 1e-12, 1e-10));
}

TEST(ProbabilityFlow, TransportsGaussianDataExactly) {
  // Data N(0, c2 I): the flow is linear, every particle is scaled by sqrt(v_t / v_1). Heun with
  // 400 steps must reproduce the scaling to 1e-4 (its error is O(h^2)).
  const VpSde sde;
  const double c2 = 4, t_end = 1e-3;
  const auto score = t4::gaussian_data_score(sde, c2);
  const auto x1 = fixed_normal({100, 2}, 94).to(torch::kFloat64);
  const auto out =
      integrate([&](const torch::Tensor& x, double t, double h) { return pf_ode_heun_step(sde, score, x, t, h); }, x1,
                t_end, 400);
  const double ratio = std::sqrt(t4::gaussian_var_t(sde, c2, t_end) / t4::gaussian_var_t(sde, c2, 1.0));
  EXPECT_TRUE(tensors_close("x_tmin = x_1 sqrt(v_tmin / v_1)", out, ratio * x1, 1e-4, 1e-4));
}

TEST(ProbabilityFlow, HeunConvergesAtSecondOrderEulerAtFirst) {
  // Exact ring score, 64 particles from t = 1 to t = 0.05 (before the score sharpens near the data),
  // N = 80..640 steps against Heun with 10240 steps. Measured slopes of log error vs log h
  // (reference solution): Euler ~1.0, Heun ~2.0; the test asks for [0.8, 1.3] and > 1.7.
  const VpSde sde;
  const auto score = exact_score(t4::ring(), sde);
  const auto x1 = fixed_normal({64, 2}, 95).to(torch::kFloat64);
  const double t_end = 0.05;
  auto euler = [&](const torch::Tensor& x, double t, double h) { return pf_ode_euler_step(sde, score, x, t, h); };
  auto heun = [&](const torch::Tensor& x, double t, double h) { return pf_ode_heun_step(sde, score, x, t, h); };
  const auto reference = integrate(heun, x1, t_end, 10240);
  std::vector<double> hs, err_e, err_h;
  for (std::int64_t N : {80, 160, 320, 640}) {
    hs.push_back((1 - t_end) / double(N));
    err_e.push_back((integrate(euler, x1, t_end, N) - reference).abs().max().item<double>());
    err_h.push_back((integrate(heun, x1, t_end, N) - reference).abs().max().item<double>());
  }
  const double p_e = t4::log_log_slope(hs, err_e), p_h = t4::log_log_slope(hs, err_h);
  RecordProperty("euler_order", fmt::format("{:.3f}", p_e));
  RecordProperty("heun_order", fmt::format("{:.3f}", p_h));
  EXPECT_GT(p_e, 0.8) << "Euler's measured order";
  EXPECT_LT(p_e, 1.3) << "Euler's measured order";
  EXPECT_GT(p_h, 1.7) << "Heun's measured order (errors " << err_h[0] << " ... " << err_h[3]
                      << "); about 1 means the corrector is not used or the second velocity is at the wrong time";
  EXPECT_LT(err_h.back(), err_e.back()) << "at 640 steps Heun must beat Euler";
}

TEST(ProbabilityFlow, HeunWithTheExactScoreRecoversTheRingModeWeights) {
  // N(0, I) noise, 100 Heun steps (200 score evaluations) to t = 1e-3, n = 8000: mode weights at
  // 5 standard errors of a proportion plus 0.01.
  const VpSde sde;
  const auto score = exact_score(t4::ring(), sde);
  const std::int64_t n = 8000;
  auto x = integrate([&](const torch::Tensor& y, double t, double h) { return pf_ode_heun_step(sde, score, y, t, h); },
                     fixed_normal({n, 2}, 96).to(torch::kFloat64), 1e-3, 100);
  const auto w = t4::nearest_mode_weights(x, t4::ring().means);
  for (std::int64_t k = 0; k < 8; ++k) {
    const double wk = t4::ring().weights[k].item<double>();
    EXPECT_NEAR(w[k].item<double>(), wk, 5 * std::sqrt(wk * (1 - wk) / double(n)) + 0.01) << "mode " << k;
  }
  const auto d = std::get<0>(torch::cdist(x, t4::ring().means).min(1));
  EXPECT_NEAR(d.square().mean().item<double>() / 2, 0.09, 0.01)
      << "per-coordinate spread around the modes (s^2 = 0.09)";
}
