// Chapter 04 at the grader's seed: one test per exercise whose inputs (tensors, alpha_bar, a random
// Gaussian mixture, the VP-SDE's beta range, t, h, delta, r, gamma) are drawn at run time from
// DM_GRADE_SEED, which `./course grade` draws for every run, so outputs hard-coded for the fixed inputs
// of the golden tests do not pass. Each output is checked against a truth computed here, not by another
// exercise: the identities of x_t = a x0 + s eps, v = a eps - s x0, score = -eps / s (04.1); Bayes'
// rule in plain loops on the mixture (04.2); the formulas of steps.hpp written out, with a score that
// depends on t as well as x (04.3 - 04.5); min-SNR-gamma by cases (04.6). All in float64, so the
// tolerances are rounding-level and any wrong coefficient fails. Failures name the seed; reproduce
// them with `./course grade --seed N`.
// Run: build/default/bin/test_04_solutions --gtest_filter='*AtTheGradersSeed'
//      DM_GRADE_SEED=7 build/default/bin/test_04_exercises --gtest_filter='Tweedie.*AtTheGradersSeed'
#include <gtest/gtest.h>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <cmath>
#include <vector>

#include "04_score_sde/param.hpp"
#include "04_score_sde/steps.hpp"
#include "04_score_sde/tweedie.hpp"
#include "ch04_reference.hpp"
#include "testing.hpp"

using namespace dm::ch04;
namespace t4 = dm::ch04::test;
using dm::testing::seed_note;
using dm::testing::seeded_normal;
using dm::testing::seeded_scalar;
using dm::testing::seeded_steps;
using dm::testing::seeded_uniform;
using dm::testing::tensors_close;

namespace {

const auto kF64 = torch::kFloat64;

std::int64_t seeded_int(std::uint64_t salt, std::int64_t lo, std::int64_t hi) {
  return seeded_steps(1, lo, hi, salt)[0].item<std::int64_t>();
}

void report(const std::string& mistake) {
  if (!mistake.empty()) ADD_FAILURE() << "likely mistake: " << mistake << seed_note();
}

// A VP-SDE with a seeded beta range, and the score of its marginals for data N(m, c2 I), written out
// here: p_t = N(sqrt(ab(t)) m, (ab(t) c2 + 1 - ab(t)) I). It depends on t, so a score taken at the
// wrong time shows.
struct SeededSde {
  VpSde sde;
  double m, c2;
  explicit SeededSde(std::uint64_t salt) : m(seeded_scalar(salt + 2, -2, 2)), c2(seeded_scalar(salt + 3, 0.05, 0.5)) {
    sde.beta_min = seeded_scalar(salt, 0.05, 0.5);
    sde.beta_max = seeded_scalar(salt + 1, 5, 25);
  }
  double beta(double t) const { return sde.beta_min + t * (sde.beta_max - sde.beta_min); }
  double alpha_bar(double t) const {
    return std::exp(-(sde.beta_min * t + 0.5 * (sde.beta_max - sde.beta_min) * t * t));
  }
  torch::Tensor score_at(const torch::Tensor& x, double t) const {
    const double ab = alpha_bar(t);
    return -(x - std::sqrt(ab) * m) / (ab * c2 + 1 - ab);
  }
  ScoreFn score() const {
    return [this](const torch::Tensor& x, double t) { return score_at(x, t); };
  }
};

// E[x0 | x_t] of the mixture with one named slip, in tensor ops (only to name a mistake; the truth is
// t4::reference_posterior_mean's plain loops).
struct Slips {
  bool std_as_variance = false, centre_unscaled = false, gain_without_a = false, softmax_over_batch = false,
       no_normaliser = false;
};
torch::Tensor slipped_posterior_mean(const dm::GaussianMixture2D& gm, const torch::Tensor& xt, double ab, Slips s) {
  const double a = std::sqrt(ab);
  const auto x = xt.to(kF64), mu = gm.means.to(kF64), sd = gm.stds.to(kF64);
  const auto var0 = s.std_as_variance ? sd : sd.square();                               // [K]
  const auto var_t = ab * var0 + (1 - ab);                                              // [K]
  const auto resid = x.unsqueeze(1) - (s.centre_unscaled ? 1.0 : a) * mu.unsqueeze(0);  // [n, K, 2]
  auto log_joint = gm.weights.to(kF64).log().unsqueeze(0) - resid.square().sum(-1) / (2 * var_t).unsqueeze(0);
  if (!s.no_normaliser) log_joint = log_joint - (2 * M_PI * var_t).log().unsqueeze(0);
  const auto r = torch::softmax(log_joint, s.softmax_over_batch ? 0 : 1);  // [n, K]
  const auto gain = (s.gain_without_a ? 1.0 : a) * var0 / var_t;           // [K]
  return (r.unsqueeze(2) * (mu.unsqueeze(0) + gain.view({1, -1, 1}) * resid)).sum(1);
}

// Mean over the rows of the per-row L2 norms of an [n, d] tensor, in plain loops.
double mean_row_norm(const torch::Tensor& x) {
  const auto c = x.to(kF64).contiguous();
  const auto n = c.size(0), d = c.size(1);
  const double* p = c.data_ptr<double>();
  double total = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    double sq = 0;
    for (std::int64_t j = 0; j < d; ++j) sq += p[i * d + j] * p[i * d + j];
    total += std::sqrt(sq);
  }
  return total / double(n);
}

}  // namespace

// ---- 04.1 -------------------------------------------------------------------------------------------

TEST(Conversions, RecoverEveryKindAtTheGradersSeed) {
  // x0 and eps known, alpha_bar per row in [0.05, 0.95] (a and s both in [0.22, 0.97], so a or s in
  // place of the other, or 1 - alpha_bar for s, is off by 3% at least); x_t, v and the score built
  // from them. Every kind -> eps must give eps back, eps -> every kind the kind itself.
  const std::int64_t n = 8, d = 3;
  const auto ab = seeded_uniform({n, 1}, 4101, 0.05, 0.95).to(kF64);
  const auto a = ab.sqrt(), s = (1 - ab).sqrt();
  const auto x0 = seeded_scalar(4102, 1, 3) * seeded_normal({n, d}, 4103).to(kF64);
  const auto eps = seeded_normal({n, d}, 4104).to(kF64);
  const auto xt = a * x0 + s * eps, v = a * eps - s * x0, score = -eps / s;
  const std::vector<std::pair<Prediction, torch::Tensor>> kinds = {
      {Prediction::Eps, eps}, {Prediction::X0, x0}, {Prediction::V, v}, {Prediction::Score, score}};
  for (const auto& [kind, truth] : kinds) {
    const auto e = to_eps(kind, truth, xt, ab);
    if (kind == Prediction::Score)
      report(t4::diagnose(e, eps,
                          {{"score -> eps has the wrong sign: eps = -sqrt(1 - alpha_bar) score", s * score},
                           {"score -> eps: the factor is sqrt(1 - alpha_bar), not 1 - alpha_bar", -(1 - ab) * score}}));
    if (kind == Prediction::V)
      report(t4::diagnose(e, eps, {{"v -> eps: v = a eps - s x0, so eps = a v + s x_t", -a * v + s * xt}}));
    EXPECT_TRUE(tensors_close(fmt::format("to_eps({})", name(kind)), e, eps, 1e-10, 1e-9)) << seed_note();
    const auto p = from_eps(kind, eps, xt, ab);
    if (kind == Prediction::X0)
      report(t4::diagnose(p, x0, {{"eps -> x0: divide by sqrt(alpha_bar) after removing the noise", xt - s * eps}}));
    if (kind == Prediction::Score)
      report(t4::diagnose(p, score,
                          {{"eps -> score: divide by sqrt(1 - alpha_bar), not by 1 - alpha_bar", -eps / (1 - ab)}}));
    EXPECT_TRUE(tensors_close(fmt::format("from_eps({})", name(kind)), p, truth, 1e-10, 1e-9)) << seed_note();
  }
  // float32 data, alpha_bar a float64 0-dim tensor (one for the batch) or [n, 1] (one per row): the
  // result has x_t's dtype either way (a and s cast to it).
  const auto xt32 = seeded_normal({n, d}, 4106), eps32 = seeded_normal({n, d}, 4107);
  const auto x64 = xt32.to(kF64), e64 = eps32.to(kF64);
  const auto ab_row = seeded_uniform({n, 1}, 4105, 0.05, 0.95).to(kF64);
  for (const auto& ab32 : {ab_row[0][0].clone(), ab_row}) {
    const auto a32 = ab32.sqrt(), s32 = (1 - ab32).sqrt();
    const std::vector<std::pair<Prediction, torch::Tensor>> kinds32 = {{Prediction::X0, (x64 - s32 * e64) / a32},
                                                                       {Prediction::V, (e64 - s32 * x64) / a32},
                                                                       {Prediction::Score, -e64 / s32}};
    for (const auto& [kind, truth] : kinds32) {
      const auto label =
          fmt::format("from_eps({}), float32 x_t, alpha_bar of shape [{}]", name(kind), fmt::join(ab32.sizes(), ", "));
      const auto p = from_eps(kind, eps32, xt32, ab32);
      EXPECT_EQ(p.scalar_type(), torch::kFloat32)
          << "likely mistake: " << label << ": from_eps must return x_t's dtype" << seed_note();
      EXPECT_TRUE(tensors_close(label, p, truth, 2e-5, 2e-5)) << seed_note();
      const auto e = to_eps(kind, truth.to(torch::kFloat32), xt32, ab32);
      EXPECT_EQ(e.scalar_type(), torch::kFloat32)
          << "likely mistake: to_eps, " << label << ": to_eps must return x_t's dtype" << seed_note();
    }
  }
}

// ---- 04.2 -------------------------------------------------------------------------------------------

TEST(Tweedie, IsTheBayesPosteriorMeanAtTheGradersSeed) {
  // A random mixture of K = 2..5 components (unequal weights and widths, so a responsibility without
  // its normalising 1 / (2 pi var_k) is wrong), alpha_bar in [0.05, 0.95], points x_t partly on the
  // borders between two noised components (where the responsibilities matter) and partly anywhere.
  // Truth: E[x0 | x_t] by Bayes' rule in plain loops (ch04_reference.hpp). Tweedie's formula with the
  // exact score of p_t (the library's analytic score) and the Bayes computation must both give it.
  const std::int64_t K = seeded_int(4201, 2, 5), n = 32;
  dm::GaussianMixture2D gm;
  gm.weights = seeded_uniform({K}, 4202, 0.2, 1.0).to(kF64);
  gm.weights = gm.weights / gm.weights.sum();
  gm.means = 2.5 * seeded_normal({K, 2}, 4203).to(kF64);
  gm.stds = seeded_uniform({K}, 4204, 0.2, 1.0).to(kF64);
  const double ab = seeded_scalar(4205, 0.05, 0.95), a = std::sqrt(ab);
  auto xt = 3 * seeded_normal({n, 2}, 4206).to(kF64);
  xt.slice(0, 0, 8).copy_(a * 0.5 * (gm.means[0] + gm.means[1]) + 0.3 * seeded_normal({8, 2}, 4207).to(kF64));
  const auto expected = t4::reference_posterior_mean(gm, xt, ab);

  const auto score = gm.noised(ab).score(xt);
  const auto out = tweedie_x0(xt, score, ab);
  report(t4::diagnose(out, expected,
                      {{"the score enters with a plus sign: x0 = (x_t + (1 - alpha_bar) score) / sqrt(alpha_bar)",
                        (xt - (1 - ab) * score) / a},
                       {"the score is multiplied by 1 - alpha_bar (the noise variance), not its square root",
                        (xt + std::sqrt(1 - ab) * score) / a},
                       {"divide by sqrt(alpha_bar): x_t holds sqrt(alpha_bar) x_0", xt + (1 - ab) * score},
                       {"divide by sqrt(alpha_bar), not alpha_bar", (xt + (1 - ab) * score) / ab},
                       {"divide all of x_t + (1 - alpha_bar) score by sqrt(alpha_bar), not only the score term",
                        xt + (1 - ab) * score / a}}));
  EXPECT_TRUE(tensors_close(fmt::format("tweedie_x0 with the exact score vs Bayes, alpha_bar = {}", ab), out, expected,
                            1e-9, 1e-8))
      << seed_note();

  const auto bayes = mixture_posterior_mean(gm, xt, ab);
  auto slip = [&](bool Slips::*which) {
    Slips s;
    s.*which = true;
    return slipped_posterior_mean(gm, xt, ab, s);
  };
  report(t4::diagnose(
      bayes, expected,
      {{"the variance of component k in p_t is alpha_bar s_k^2 + 1 - alpha_bar: s_k is a standard deviation",
        slip(&Slips::std_as_variance)},
       {"component k of p_t is centred at sqrt(alpha_bar) mu_k: the residual is x_t minus that centre",
        slip(&Slips::centre_unscaled)},
       {"the gain is sqrt(alpha_bar) s_k^2 / var_k: x_t carries sqrt(alpha_bar) x0", slip(&Slips::gain_without_a)},
       {"normalise the responsibilities over the components k (dim 1), not over the batch",
        slip(&Slips::softmax_over_batch)},
       {"each component's density has its normaliser 1 / (2 pi var_k): the components differ in width",
        slip(&Slips::no_normaliser)}}));
  EXPECT_TRUE(
      tensors_close(fmt::format("mixture_posterior_mean vs Bayes in plain loops, K = {}, alpha_bar = {}", K, ab), bayes,
                    expected, 1e-9, 1e-8))
      << seed_note();
  const auto xt32 = xt.to(torch::kFloat32);
  const auto bayes32 = mixture_posterior_mean(gm, xt32, ab);
  EXPECT_EQ(bayes32.scalar_type(), torch::kFloat32) << "return x_t's dtype" << seed_note();
  EXPECT_TRUE(tensors_close("mixture_posterior_mean, float32 x_t", bayes32, t4::reference_posterior_mean(gm, xt32, ab),
                            2e-5, 1e-5))
      << seed_note();
}

// ---- 04.3 -------------------------------------------------------------------------------------------

TEST(Langevin, StepAndStepSizeFollowTheirFormulasAtTheGradersSeed) {
  // The step with a Gaussian target N(m, var) (score -(x - m) / var), delta in [0.01, 0.5].
  const auto x = seeded_scalar(4301, 1, 3) * seeded_normal({12, 2}, 4302).to(kF64);
  const auto z = seeded_normal({12, 2}, 4303).to(kF64);
  const double m = seeded_scalar(4304, -1, 1), var = seeded_scalar(4305, 0.3, 3),
               delta = seeded_scalar(4306, 0.01, 0.5);
  const auto s = -(x - m) / var;
  const auto out = langevin_step(x, s, delta, z);
  const auto expected = x + 0.5 * delta * s + std::sqrt(delta) * z;
  report(t4::diagnose(out, expected,
                      {{"the drift is (delta / 2) score: the 1/2 is missing", x + delta * s + std::sqrt(delta) * z},
                       {"the noise has variance delta: sqrt(delta) z, not sqrt(2 delta) z",
                        x + 0.5 * delta * s + std::sqrt(2 * delta) * z},
                       {"the score's sign: Langevin climbs the log-density, x + (delta / 2) score",
                        x - 0.5 * delta * s + std::sqrt(delta) * z},
                       {"the noise is scaled by sqrt(delta), not delta", x + 0.5 * delta * s + delta * z}}));
  EXPECT_TRUE(
      tensors_close(fmt::format("x + delta/2 score + sqrt(delta) z, delta = {}", delta), out, expected, 1e-12, 1e-10))
      << seed_note();

  // The step size: rows of very different sizes (per-row scales in [0.2, 5]), so the mean of the
  // per-sample norms differs from a norm over the whole batch; d = 2..6 coordinates, r in [0.05, 0.5].
  const std::int64_t n = 40, d = seeded_int(4307, 2, 6);
  const auto score = seeded_normal({n, d}, 4308).to(kF64) * seeded_uniform({n, 1}, 4309, 0.2, 5).to(kF64);
  const auto noise = seeded_normal({n, d}, 4310).to(kF64);
  const double r = seeded_scalar(4311, 0.05, 0.5);
  const double zn = mean_row_norm(noise), sn = mean_row_norm(score);
  const double want = 2 * std::pow(r * zn / sn, 2), got = langevin_step_size(score, noise, r);
  std::string hint;
  if (std::abs(got - want / 2) < 1e-9 * want) hint = " (got half: the factor 2 is missing)";
  if (std::abs(got - 2 * r * zn / sn) < 1e-9 * want) hint = " (got 2 r |z| / |s|: square the ratio)";
  if (std::abs(got - 2 * std::pow(r * sn / zn, 2)) < 1e-9 * want) hint = " (the ratio is upside down: |z| / |score|)";
  const double whole = 2 * std::pow(r * noise.norm().item<double>() / score.norm().item<double>(), 2);
  if (std::abs(got - whole) < 1e-9 * whole)
    hint = "\nlikely mistake: per-sample L2 norms, averaged over the batch, not one norm of the whole batch";
  EXPECT_NEAR(got, want, 1e-9 * want) << "2 (r mean|z| / mean|score|)^2 with per-sample norms, r = " << r
                                      << ", d = " << d << hint << seed_note();
}

// ---- 04.4 -------------------------------------------------------------------------------------------

TEST(ReverseSde, StepFollowsTheReverseDriftAtTheGradersSeed) {
  // beta_min in [0.05, 0.5], beta_max in [5, 25], t in [0.1, 1], h in [0.002, 0.05]; the score of
  // noised Gaussian data N(m, c2 I), which changes with t.
  const SeededSde ss(4401);
  const double t = seeded_scalar(4405, 0.1, 1), h = seeded_scalar(4406, 0.002, 0.05), beta = ss.beta(t);
  const auto x = 2 * seeded_normal({10, 2}, 4407).to(kF64), z = seeded_normal({10, 2}, 4408).to(kF64);
  const auto s = ss.score_at(x, t);
  const auto out = reverse_sde_step(ss.sde, ss.score(), x, t, h, z);
  const auto expected = x + h * beta * (0.5 * x + s) + std::sqrt(beta * h) * z;
  report(t4::diagnose(
      out, expected,
      {{"the reverse SDE has g^2 grad log p; the probability-flow ODE has 1/2 g^2 grad log p",
        x + h * beta * (0.5 * x + 0.5 * s) + std::sqrt(beta * h) * z},
       {"the score's sign: a step back in time ADDS beta h score",
        x + h * beta * (0.5 * x - s) + std::sqrt(beta * h) * z},
       {"time runs backwards: x' = x - h (f - g^2 score); the forward drift f = -beta x / 2 must be undone",
        x + h * beta * (-0.5 * x + s) + std::sqrt(beta * h) * z},
       {"the noise has variance g(t)^2 h = beta(t) h, not h", x + h * beta * (0.5 * x + s) + std::sqrt(h) * z},
       {"the noise has standard deviation sqrt(beta(t) h), not beta(t) h", x + h * beta * (0.5 * x + s) + beta * h * z},
       {"time runs backwards: the step goes from t to t - h, so it subtracts h times the drift (this one added it)",
        x - h * beta * (0.5 * x + s) + std::sqrt(beta * h) * z},
       {"g(t)^2 = beta(t), not sqrt(beta(t)): beta enters the drift and the noise as it is",
        x + h * std::sqrt(beta) * (0.5 * x + s) + std::sqrt(std::sqrt(beta) * h) * z},
       {"evaluate the score and beta once, at (x, t), not at t - h",
        x + h * ss.beta(t - h) * (0.5 * x + ss.score_at(x, t - h)) + std::sqrt(ss.beta(t - h) * h) * z}}));
  EXPECT_TRUE(tensors_close(fmt::format("x + h beta (x / 2 + score) + sqrt(beta h) z, t = {}, h = {}", t, h), out,
                            expected, 1e-12, 1e-10))
      << seed_note();
}

// ---- 04.5 -------------------------------------------------------------------------------------------

TEST(ProbabilityFlow, VelocityEulerAndHeunFollowTheirFormulasAtTheGradersSeed) {
  // As for 04.4: a seeded SDE, t in [0.1, 1], h in [0.002, 0.05], a score that changes with t (so
  // Heun's second velocity at t instead of t - h shows, through beta(t) as well as the score).
  const SeededSde ss(4501);
  const double t = seeded_scalar(4505, 0.1, 1), h = seeded_scalar(4506, 0.002, 0.05);
  const auto x = 2 * seeded_normal({10, 2}, 4507).to(kF64);
  auto vel = [&](const torch::Tensor& y, double tt) { return -0.5 * ss.beta(tt) * (y + ss.score_at(y, tt)); };
  const double beta = ss.beta(t);
  const auto s = ss.score_at(x, t);

  const auto v = pf_ode_velocity(ss.sde, ss.score(), x, t);
  report(t4::diagnose(
      v, vel(x, t),
      {{"the probability-flow ODE has 1/2 g^2 grad log p, the reverse SDE has g^2 grad log p",
        -0.5 * beta * x - beta * s},
       {"the score's sign: dx/dt = f - 1/2 g^2 score = -beta (x + score) / 2", -0.5 * beta * (x - s)},
       {"f = -1/2 beta x: the 1/2 belongs to the drift as well", -beta * x - 0.5 * beta * s},
       {"that is the step's direction (-velocity); return dx/dt itself", 0.5 * beta * (x + s)},
       {"g(t)^2 = beta(t), not sqrt(beta(t))", -0.5 * std::sqrt(beta) * (x + s)},
       {"beta(t) itself, not its integral (the exponent of alpha_bar)", 0.5 * std::log(ss.alpha_bar(t)) * (x + s)}}));
  EXPECT_TRUE(tensors_close(fmt::format("dx/dt = -beta(t) (x + score) / 2, t = {}", t), v, vel(x, t), 1e-12, 1e-10))
      << seed_note();

  const auto euler = x - h * vel(x, t);
  const auto out_e = pf_ode_euler_step(ss.sde, ss.score(), x, t, h);
  report(t4::diagnose(out_e, euler, {{"time runs backwards: x' = x - h dx/dt", x + h * vel(x, t)}}));
  EXPECT_TRUE(tensors_close(fmt::format("Euler: x - h v(x, t), t = {}, h = {}", t, h), out_e, euler, 1e-12, 1e-10))
      << seed_note();

  const auto heun = x - 0.5 * h * (vel(x, t) + vel(euler, t - h));
  const auto out_h = pf_ode_heun_step(ss.sde, ss.score(), x, t, h);
  report(t4::diagnose(out_h, heun,
                      {{"the second velocity is taken at t - h (the end of the step), not at t",
                        x - 0.5 * h * (vel(x, t) + vel(euler, t))},
                       {"Heun averages the two velocities: x - h/2 (v1 + v2), not x - h v2", x - h * vel(euler, t - h)},
                       {"the predictor goes backwards in time too: x~ = x - h v1",
                        x - 0.5 * h * (vel(x, t) + vel(x + h * vel(x, t), t - h))},
                       {"the second velocity is taken at t + h: time runs backwards, to t - h",
                        x - 0.5 * h * (vel(x, t) + vel(euler, t + h))},
                       {"the second velocity is taken at the Euler guess x~, not at the start point x",
                        x - 0.5 * h * (vel(x, t) + vel(x, t - h))},
                       {"Heun steps with the average of the two velocities, (v1 + v2) / 2, not their sum",
                        x - h * (vel(x, t) + vel(euler, t - h))}},
                      1e-10, 1e-12));  // a wrong point for v2 is off by O(h^2) only: rounding-level tolerances
  EXPECT_TRUE(tensors_close(fmt::format("Heun: x - h/2 (v(x, t) + v(x~, t - h)), t = {}, h = {}", t, h), out_h, heun,
                            1e-12, 1e-10))
      << seed_note();
}

// ---- 04.6 -------------------------------------------------------------------------------------------

TEST(MinSnr, WeightsEveryKindAtTheGradersSeed) {
  // gamma in [1, 10]; 16 SNRs below it and 16 above (log-uniform within a factor e^4 either side), so
  // both branches of the min are used. Truth: min(snr, gamma) / (1, snr, snr + 1, snr (snr + 1)) case by case.
  const double gamma = seeded_scalar(4601, 1, 10);
  const auto u = torch::cat({seeded_uniform({16}, 4602, -4, -0.01), seeded_uniform({16}, 4603, 0.01, 4)}).to(kF64);
  const auto snr = gamma * u.exp();
  const auto p = snr.contiguous();
  const double* q = p.data_ptr<double>();
  const std::vector<Prediction> kinds = {Prediction::Eps, Prediction::X0, Prediction::V, Prediction::Score};
  for (auto kind : kinds) {
    std::vector<double> want;
    for (std::int64_t i = 0; i < p.size(0); ++i) {
      const double x = q[i], clipped = x < gamma ? x : gamma;
      switch (kind) {
        case Prediction::X0:
          want.push_back(clipped);
          break;
        case Prediction::Eps:
          want.push_back(clipped / x);
          break;
        case Prediction::V:
          want.push_back(clipped / (x + 1));
          break;
        case Prediction::Score:
          want.push_back(clipped / (x * (x + 1)));
          break;
      }
    }
    const auto w = min_snr_weight(snr, gamma, kind);
    const auto expected = torch::tensor(want, kF64);
    if (kind == Prediction::Eps)
      report(t4::diagnose(
          w, expected,
          {{"that is min(SNR, gamma), the x0-prediction weight; for eps-prediction divide by SNR",
            snr.clamp_max(gamma)},
           {"that is gamma / SNR without the min: low-SNR steps must keep weight 1", gamma / snr},
           {"that is min(SNR, gamma) / (SNR + 1), the v-prediction weight", snr.clamp_max(gamma) / (snr + 1)},
           {"min(SNR, gamma), not max(SNR, gamma): the weight caps the easy steps", snr.clamp_min(gamma) / snr}}));
    if (kind == Prediction::V)
      report(t4::diagnose(w, expected,
                          {{"the v-prediction weight is min(SNR, gamma) / (SNR + 1), not the eps-prediction one",
                            snr.clamp_max(gamma) / snr}}));
    if (kind == Prediction::Score)
      report(t4::diagnose(w, expected,
                          {{"the score-prediction weight is min(SNR, gamma) / (SNR (SNR + 1)): it is missing "
                            "the factor 1 / SNR",
                            snr.clamp_max(gamma) / (snr + 1)}}));
    EXPECT_TRUE(
        tensors_close(fmt::format("min_snr_weight({}), gamma = {}", name(kind), gamma), w, expected, 1e-12, 1e-10))
        << seed_note();
    const auto w32 = min_snr_weight(snr.to(torch::kFloat32), gamma, kind);
    EXPECT_EQ(w32.scalar_type(), torch::kFloat32) << "weights keep the dtype of snr" << seed_note();
  }
}
