// Chapter 01 at the grader's seed: one test per function of every exercise, on inputs drawn at run time
// from DM_GRADE_SEED (`./course grade` draws it; dm::testing::seeded_*), so outputs hard-coded for the
// fixed inputs of the other tests do not pass. Each checks the exercise against a truth computed here:
// plain loops for the Brownian path, Euler-Maruyama and the GBM errors; the trapezoid area and the
// closed-form moments for the marginals; e^{-beta/2}, sqrt(1 - e^{-beta}), the composition of two
// exact steps and sqrt(1 - beta), sqrt(beta) for the steps; a least-squares solve (QR) for the slope.
// Every failure message ends with the seed, so `./course grade --seed N` repeats it.
// Run: DM_GRADE_SEED=7 build/default/bin/test_01_solutions --gtest_filter='*AtTheGradersSeed'
#include <gtest/gtest.h>

#include <Eigen/QR>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "01_ito_sde/brownian.hpp"
#include "01_ito_sde/convergence.hpp"
#include "01_ito_sde/euler_maruyama.hpp"
#include "01_ito_sde/marginals.hpp"
#include "01_ito_sde/vp_step.hpp"
#include "ch01_testing.hpp"
#include "testing.hpp"

namespace {

using namespace dm::ch01;
using dm::testing::seed_note;
using dm::testing::seeded_scalar;
using dm::testing::tensors_close;
using Eigen::ArrayXd;
using Eigen::ArrayXXd;

std::int64_t seeded_int(std::int64_t lo, std::int64_t hi, std::uint64_t salt) {
  return dm::testing::seeded_steps(1, lo, hi, salt)[0].item<std::int64_t>();
}
// log-uniform in [lo, hi): every order of magnitude as likely
double seeded_log(std::uint64_t salt, double lo, double hi) {
  return std::exp(seeded_scalar(salt, std::log(lo), std::log(hi)));
}
// [rows, cols] N(0, 1) at the grader's seed, as doubles
ArrayXXd seeded_normals(Eigen::Index rows, Eigen::Index cols, std::uint64_t salt) {
  const auto t = dm::testing::seeded_normal({static_cast<std::int64_t>(rows * cols)}, salt);
  const float* p = t.data_ptr<float>();
  ArrayXXd z(rows, cols);
  for (Eigen::Index i = 0; i < rows * cols; ++i) z.data()[i] = p[i];
  return z;
}
ArrayXd flat(const ArrayXXd& a) { return Eigen::Map<const ArrayXd>(a.data(), a.size()); }
bool close(const ArrayXXd& a, const ArrayXXd& b, double tol) {
  return a.rows() == b.rows() && a.cols() == b.cols() && ((a - b).abs() <= tol * (1 + b.abs())).all();
}

// ---- 01.1 ------------------------------------------------------------------------------------------

ArrayXXd running_sum(const ArrayXXd& z, double scale) {
  ArrayXXd w = ArrayXXd::Zero(z.rows(), z.cols() + 1);
  for (Eigen::Index p = 0; p < z.rows(); ++p)
    for (Eigen::Index k = 0; k < z.cols(); ++k) w(p, k + 1) = w(p, k) + scale * z(p, k);
  return w;
}

TEST(Brownian, IsTheRunningSumOfScaledNoiseAtTheGradersSeed) {
  const auto n_paths = seeded_int(2, 9, 1101), n_steps = seeded_int(3, 48, 1102);
  const double dt = seeded_log(1103, 1e-4, 0.5);  // dt < 1, so dt and sqrt(dt) differ by a factor >= 1.4
  const ArrayXXd z = seeded_normals(n_paths, n_steps, 1104);
  const auto w = brownian_paths(z, dt);
  const std::string where = "n_paths = " + std::to_string(n_paths) + ", n_steps = " + std::to_string(n_steps) +
                            ", dt = " + std::to_string(dt);
  ASSERT_EQ(w.rows(), n_paths) << where << seed_note();
  ASSERT_EQ(w.cols(), n_steps + 1) << where << ": n_steps increments give n_steps + 1 times" << seed_note();
  const ArrayXXd expected = running_sum(z, std::sqrt(dt));  // W_{k+1} = W_k + sqrt(dt) z_k, W_0 = 0
  if (close(w, running_sum(z, dt), 1e-9))
    ADD_FAILURE() << "likely mistake: the increments are dt z; their standard deviation is sqrt(dt)" << seed_note();
  if (!close(w, expected, 1e-9) && close(w, running_sum(z, std::sqrt(1.0 / double(n_steps))), 1e-9))
    ADD_FAILURE() << "likely mistake: the increment variance is the dt given, not 1 / n_steps" << seed_note();
  ArrayXXd alone = ArrayXXd::Zero(n_paths, n_steps + 1), steps = alone;
  for (Eigen::Index k = 0; k < n_steps; ++k) {
    steps.col(k + 1) = std::sqrt(dt) * z.col(k);
    alone.col(k + 1) = std::sqrt(double(k + 1) * dt) * z.col(k);
  }
  if (close(w, steps, 1e-9))
    ADD_FAILURE() << "likely mistake: these are the increments themselves; W is their running sum (is W a running "
                     "sum?)"
                  << seed_note();
  if (close(w, alone, 1e-9))
    ADD_FAILURE() << "likely mistake: each W_t was drawn on its own from N(0, t): build W from independent increments"
                  << seed_note();
  EXPECT_EQ(w.col(0).abs().maxCoeff(), 0.0) << "W_0 must be exactly 0" << seed_note();
  // float64 sums of at most 48 terms of size <= 3 sqrt(dt): rounding ~1e-14 of the path's scale
  EXPECT_TRUE(
      tensors_close("W against the running sum of sqrt(dt) z (" + where + ")", flat(w), flat(expected), 1e-12, 1e-10))
      << seed_note();
}

// ---- 01.2 ------------------------------------------------------------------------------------------

struct TestSde {
  double m0, m1, m2, s0, s1, s2;
  double mu(double x, double t) const { return m0 + m1 * x + m2 * t; }
  double sigma(double x, double t) const { return s0 + s1 * std::abs(x) + s2 * t; }
};

// Euler-Maruyama by a plain loop; `slip` makes one classic mistake, for diagnoses.
enum class EmSlip { None, RightEnd, DwIsDt, SigmaAfterDrift, NoDtOnDrift };
ArrayXXd em_loop(const TestSde& f, const ArrayXd& x0, double t0, double dt, const ArrayXXd& z,
                 EmSlip slip = EmSlip::None) {
  ArrayXXd x(x0.size(), z.cols() + 1);
  for (Eigen::Index p = 0; p < x0.size(); ++p) {
    x(p, 0) = x0(p);
    for (Eigen::Index k = 0; k < z.cols(); ++k) {
      const double t = t0 + static_cast<double>(slip == EmSlip::RightEnd ? k + 1 : k) * dt, xk = x(p, k);
      const double xs = slip == EmSlip::SigmaAfterDrift ? xk + f.mu(xk, t) * dt : xk;
      const double drift = f.mu(xk, t) * (slip == EmSlip::NoDtOnDrift ? 1.0 : dt);
      x(p, k + 1) = xk + drift + f.sigma(xs, t) * (slip == EmSlip::DwIsDt ? dt : std::sqrt(dt)) * z(p, k);
    }
  }
  return x;
}

TEST(EulerMaruyama, MatchesThePlainLoopAtTheGradersSeed) {
  // mu = m0 + m1 x + m2 t and sigma = s0 + s1 |x| + s2 t: both depend on the state and on the time
  const TestSde f{seeded_scalar(1201, -1, 1),    seeded_scalar(1202, -2, 0.5),  seeded_scalar(1203, 0.5, 2),
                  seeded_scalar(1204, 0.1, 0.6), seeded_scalar(1205, 0.1, 0.5), seeded_scalar(1206, 0.2, 1)};
  const auto n_paths = seeded_int(2, 8, 1207), n_steps = seeded_int(4, 40, 1208);
  const double t0 = seeded_scalar(1209, 0.2, 2), dt = seeded_log(1210, 2e-3, 0.05);
  const ArrayXd x0 = seeded_normals(n_paths, 1, 1211).col(0);
  const ArrayXXd z = seeded_normals(n_paths, n_steps, 1212);
  auto mu = [&](const ArrayXd& x, double t) -> ArrayXd { return x.unaryExpr([&](double v) { return f.mu(v, t); }); };
  auto sigma = [&](const ArrayXd& x, double t) -> ArrayXd {
    return x.unaryExpr([&](double v) { return f.sigma(v, t); });
  };
  const auto x = euler_maruyama(mu, sigma, x0, t0, dt, z);
  const std::string where =
      "t0 = " + std::to_string(t0) + ", dt = " + std::to_string(dt) + ", n_steps = " + std::to_string(n_steps);
  ASSERT_EQ(x.rows(), n_paths) << where << seed_note();
  ASSERT_EQ(x.cols(), n_steps + 1) << where << ": n_steps steps give n_steps + 1 columns (x0 first)" << seed_note();
  const ArrayXXd expected = em_loop(f, x0, t0, dt, z);
  if (close(x, em_loop(f, x0, t0, dt, z, EmSlip::RightEnd), 1e-9))
    ADD_FAILURE() << "likely mistake: the coefficients were evaluated at t_{k+1}; Ito's Euler-Maruyama uses the left "
                     "end t_k = t0 + k dt"
                  << seed_note();
  if (close(x, em_loop(f, x0, t0, dt, z, EmSlip::DwIsDt), 1e-9))
    ADD_FAILURE() << "likely mistake: dW = dt z; the Brownian increment has standard deviation sqrt(dt)" << seed_note();
  if (close(x, em_loop(f, x0, t0, dt, z, EmSlip::SigmaAfterDrift), 1e-9))
    ADD_FAILURE() << "likely mistake: sigma was evaluated after the drift update: both coefficients see X_k"
                  << seed_note();
  if (close(x, em_loop(f, x0, 0.0, dt, z), 1e-9))
    ADD_FAILURE() << "likely mistake: the time should start at t0: t_k = t0 + k dt" << seed_note();
  if (close(x, em_loop(f, x0, t0, dt, z, EmSlip::NoDtOnDrift), 1e-9))
    ADD_FAILURE() << "likely mistake: the drift is not multiplied by dt" << seed_note();
  // float64, <= 40 steps of O(1) terms: the two computations differ by ~1e-15 relative
  EXPECT_TRUE(
      tensors_close("X against the plain Euler-Maruyama loop (" + where + ")", flat(x), flat(expected), 1e-11, 1e-10))
      << seed_note();
}

// ---- 01.3 ------------------------------------------------------------------------------------------

VpSde seeded_vp() { return VpSde{seeded_scalar(1301, 0.01, 1.0), seeded_scalar(1302, 5.0, 30.0)}; }
// int_s^t beta(u) du of a straight line: the area of a trapezoid
double trapezoid(const VpSde& vp, double s, double t) { return (t - s) * (vp.beta(s) + vp.beta(t)) / 2; }

TEST(Marginals, IntegratedBetaIsTheTrapezoidAreaAtTheGradersSeed) {
  const VpSde vp = seeded_vp();
  const double s = seeded_scalar(1303, 0.0, 0.6);
  for (auto [a, b] : {std::pair{0.0, seeded_scalar(1304, 1e-3, 1.0)}, std::pair{s, seeded_scalar(1305, s, 1.0)}}) {
    const double got = vp_int_beta(vp, a, b), expected = trapezoid(vp, a, b);
    const double tol = 1e-12 + 1e-10 * std::abs(expected);
    auto looks_like = [&](double wrong) { return std::abs(got - expected) > tol && std::abs(got - wrong) < tol; };
    if (looks_like(vp.beta(b) * b - vp.beta(a) * a))
      ADD_FAILURE() << "likely mistake: B(s, t) looks like beta(t) t - beta(s) s; integrate beta, a straight line"
                    << seed_note();
    if (looks_like(vp.beta_min * (b - a) + 0.5 * (vp.beta_max - vp.beta_min) * (b - a) * (b - a)))
      ADD_FAILURE() << "likely mistake: B(s, t) uses (t - s)^2; the integral of u is (t^2 - s^2) / 2" << seed_note();
    if (looks_like(trapezoid(vp, 0.0, b)))
      ADD_FAILURE() << "likely mistake: B(s, t) ignores s: it integrates from s, not from 0" << seed_note();
    EXPECT_NEAR(got, expected, tol) << "int_" << a << "^" << b << " beta(u) du with beta_min = " << vp.beta_min
                                    << ", beta_max = " << vp.beta_max << seed_note();
  }
}

TEST(Marginals, OuMomentsMatchTheClosedFormAtTheGradersSeed) {
  const OuProcess ou{seeded_scalar(1311, 0.3, 3.0), seeded_scalar(1312, -2.0, 2.0), seeded_scalar(1313, 0.2, 1.5)};
  const double x0 = seeded_scalar(1314, -3.0, 3.0);
  // a short time (the variance still grows like sigma^2 t), one of order 1 / theta, a long one (stationary)
  for (double t : {seeded_scalar(1315, 0.01, 0.2), seeded_scalar(1316, 0.2, 1.0), seeded_scalar(1317, 1.0, 4.0)}) {
    const auto got = ou_marginal(ou, x0, t);
    const double decay = std::exp(-ou.theta * t);
    const double mean = ou.mu + (x0 - ou.mu) * decay;
    const double var = ou.sigma * ou.sigma / (2 * ou.theta) * (1 - decay * decay);  // decays at 2 theta
    const auto where = "theta = " + std::to_string(ou.theta) + ", mu = " + std::to_string(ou.mu) +
                       ", sigma = " + std::to_string(ou.sigma) + ", x0 = " + std::to_string(x0) +
                       ", t = " + std::to_string(t);
    const bool var_ok = std::abs(got.var - var) <= 1e-9 * var;
    if (!var_ok && std::abs(got.var - ou.sigma * ou.sigma / (2 * ou.theta) * (1 - decay)) < 1e-9 * var)
      ADD_FAILURE() << "likely mistake: the variance relaxes like e^{-theta t}; it is the square of the mean's decay, "
                       "e^{-2 theta t}"
                    << seed_note();
    if (!var_ok && std::abs(got.var - 2 * var) < 1e-9 * var)
      ADD_FAILURE() << "likely mistake: the stationary variance is sigma^2 / (2 theta): a factor 2 is missing"
                    << seed_note();
    if (std::abs(got.mean - mean) > 1e-9 * (1 + std::abs(mean)) && std::abs(got.mean - x0 * decay) < 1e-12)
      ADD_FAILURE() << "likely mistake: the OU mean relaxes to mu: mu + (x0 - mu) e^{-theta t}" << seed_note();
    EXPECT_NEAR(got.mean, mean, 1e-12 + 1e-10 * std::abs(mean)) << "OU mean, " << where << seed_note();
    EXPECT_NEAR(got.var, var, 1e-13 + 1e-10 * var) << "OU variance, " << where << seed_note();
  }
}

TEST(Marginals, VpMomentsMatchTheClosedFormAtTheGradersSeed) {
  const VpSde vp = seeded_vp();
  const double x0 = seeded_scalar(1321, -3.0, 3.0);
  for (double t : {seeded_scalar(1322, 1e-3, 0.05), seeded_scalar(1323, 0.05, 0.5), seeded_scalar(1324, 0.5, 1.0)}) {
    const auto got = vp_marginal(vp, x0, t);
    const double big_b = trapezoid(vp, 0.0, t);
    const double mean = x0 * std::exp(-big_b / 2), var = -std::expm1(-big_b);
    const auto where = "beta_min = " + std::to_string(vp.beta_min) + ", beta_max = " + std::to_string(vp.beta_max) +
                       ", x0 = " + std::to_string(x0) + ", t = " + std::to_string(t);
    if (std::abs(got.mean - mean) > 1e-9 * std::abs(mean) &&
        std::abs(got.mean - x0 * std::exp(-big_b)) < 1e-9 * std::abs(mean))
      ADD_FAILURE() << "likely mistake: the mean factor is e^{-B/2}, not e^{-B}" << seed_note();
    if (std::abs(got.var - var) > 1e-9 * var && std::abs(got.var + std::expm1(-big_b / 2)) < 1e-9 * var)
      ADD_FAILURE() << "likely mistake: the variance is 1 - e^{-B}, not 1 - e^{-B/2}" << seed_note();
    const double wrong_b = vp.beta(t) * t;
    if (std::abs(got.var - var) > 1e-9 * var && std::abs(got.var + std::expm1(-wrong_b)) < 1e-9 * var)
      ADD_FAILURE() << "likely mistake: B is the integral of beta from 0 to t, not beta(t) t" << seed_note();
    // 1 - exp(-B) without expm1 loses ~1e-16 / B relative: below 1e-10 for the smallest B here (~1e-5)
    EXPECT_NEAR(got.mean, mean, 1e-13 + 1e-10 * std::abs(mean)) << "VP mean, " << where << seed_note();
    EXPECT_NEAR(got.var, var, 1e-14 + 1e-9 * var) << "VP variance, " << where << seed_note();
  }
}

// ---- 01.4 ------------------------------------------------------------------------------------------

TEST(VpStep, ExactStepMatchesTheVpMarginalAtTheGradersSeed) {
  // a tiny, a moderate and a large integrated rate
  const std::vector<double> betas = {seeded_log(1401, 1e-5, 1e-2), seeded_scalar(1402, 0.05, 0.5),
                                     seeded_scalar(1403, 0.5, 3.0)};
  for (double beta : betas) {
    const auto c = exact_step_coefficients(beta);
    const double signal = std::exp(-beta / 2), noise = std::sqrt(-std::expm1(-beta));
    if (std::abs(c.signal - std::exp(-beta)) < 1e-12)
      ADD_FAILURE() << "likely mistake: the exact step's signal looks like e^{-beta}; the mean decays as e^{-beta/2}"
                    << seed_note();
    auto noise_is = [&](double wrong) {
      return std::abs(c.noise - noise) > 1e-9 * noise && std::abs(c.noise - wrong) < 1e-9 * std::abs(wrong);
    };
    if (noise_is(-std::expm1(-beta)))
      ADD_FAILURE() << "likely mistake: the noise coefficient is the variance 1 - e^{-beta}: take its square root"
                    << seed_note();
    if (noise_is(std::sqrt(-std::expm1(-beta / 2))))
      ADD_FAILURE() << "likely mistake: the noise variance is 1 - signal^2 = 1 - e^{-beta}, not 1 - e^{-beta/2}"
                    << seed_note();
    if (noise_is(std::sqrt(beta)))
      ADD_FAILURE() << "likely mistake: the exact step's noise is sqrt(1 - e^{-beta}), not DDPM's sqrt(beta)"
                    << seed_note();
    EXPECT_NEAR(c.signal, signal, 1e-12 * signal) << "signal e^{-beta/2} at beta = " << beta << seed_note();
    EXPECT_NEAR(c.noise, noise, 1e-9 * noise) << "noise sqrt(1 - e^{-beta}) at beta = " << beta << seed_note();
  }
  // two exact steps are one step of the summed rate (the SDE's flow composes)
  const double b1 = betas[0] + betas[1], b2 = betas[2];
  const auto one = exact_step_coefficients(b1), two = exact_step_coefficients(b2),
             both = exact_step_coefficients(b1 + b2);
  EXPECT_NEAR(one.signal * two.signal, both.signal, 1e-12)
      << "signals multiply over consecutive steps, beta = " << b1 << " then " << b2 << seed_note();
  EXPECT_NEAR(two.signal * two.signal * one.noise * one.noise + two.noise * two.noise, both.noise * both.noise, 1e-12)
      << "noise variances add after the second step's decay, beta = " << b1 << " then " << b2 << seed_note();
}

TEST(VpStep, DdpmStepMatchesItsDefinitionAtTheGradersSeed) {
  for (double beta : {seeded_log(1411, 1e-5, 1e-2), seeded_scalar(1412, 0.01, 0.2), seeded_scalar(1413, 0.2, 0.95)}) {
    const auto c = ddpm_step_coefficients(beta);
    if (std::abs(c.signal - (1 - beta)) < 1e-12 || std::abs(c.noise - beta) < 1e-12)
      ADD_FAILURE() << "likely mistake: DDPM's step multiplies x by sqrt(1 - beta) and z by sqrt(beta), not 1 - beta "
                       "and beta"
                    << seed_note();
    if (std::abs(c.signal - std::sqrt(1 - beta)) > 1e-12 && std::abs(c.signal - (1 - beta / 2)) < 1e-12)
      ADD_FAILURE() << "likely mistake: DDPM's signal is sqrt(1 - beta), not its first-order expansion 1 - beta / 2"
                    << seed_note();
    EXPECT_NEAR(c.signal, std::sqrt(1 - beta), 1e-12) << "signal sqrt(1 - beta) at beta = " << beta << seed_note();
    EXPECT_NEAR(c.noise, std::sqrt(beta), 1e-12 * std::sqrt(beta))
        << "noise sqrt(beta) (added variance beta) at beta = " << beta << seed_note();
  }
}

// ---- 01.5 ------------------------------------------------------------------------------------------

// EM against the exact GBM on the same path, by plain loops. `coarse` builds a coarse increment from its r
// fine ones (Sum is right; One and Mean are slips), ito = false drops the -sigma^2/2 of the exact solution.
enum class Coarse { Sum, One, Mean };
struct GbmLoop {
  ConvergenceErrors e;
  double mean_abs = 0;   // mean |X_EM - X_T|: the strong error (a slip for the weak one)
  double vs_closed = 0;  // |mean X_EM - x0 e^{lambda T}|: a weak error without common random numbers
};
GbmLoop gbm_loop(const Gbm& g, const ArrayXXd& z, int n_steps, Coarse coarse = Coarse::Sum, bool ito = true) {
  const Eigen::Index r = z.cols() / n_steps;
  const double h = g.T / n_steps, sd_fine = std::sqrt(g.T / static_cast<double>(z.cols()));
  double strong = 0, sum_em = 0, sum_exact = 0;
  for (Eigen::Index p = 0; p < z.rows(); ++p) {
    double x = g.x0, w = 0;
    for (int k = 0; k < n_steps; ++k) {
      double dw = 0;
      for (Eigen::Index j = 0; j < (coarse == Coarse::One ? 1 : r); ++j) dw += sd_fine * z(p, k * r + j);
      if (coarse == Coarse::Mean) dw /= static_cast<double>(r);
      x += g.lambda * x * h + g.sigma * x * dw;
      w += dw;
    }
    const double exact = g.x0 * std::exp((g.lambda - (ito ? 0.5 * g.sigma * g.sigma : 0.0)) * g.T + g.sigma * w);
    strong += std::abs(x - exact);
    sum_em += x;
    sum_exact += exact;
  }
  const double n = static_cast<double>(z.rows());
  return {{h, strong / n, std::abs(sum_em - sum_exact) / n},
          strong / n,
          std::abs(sum_em / n - g.x0 * std::exp(g.lambda * g.T))};
}

TEST(Convergence, ErrorsMatchThePlainLoopAtTheGradersSeed) {
  Gbm g;
  g.lambda = seeded_scalar(1501, -1.0, 1.5);
  g.sigma = seeded_scalar(1502, 0.2, 1.0);
  g.x0 = seeded_scalar(1503, 0.5, 2.0);
  g.T = seeded_scalar(1504, 0.5, 2.0);
  const int n_steps = static_cast<int>(seeded_int(1, 8, 1505)), r = static_cast<int>(seeded_int(2, 6, 1506));
  const auto n_paths = seeded_int(20, 60, 1507);
  const ArrayXXd z = seeded_normals(n_paths, n_steps * r, 1508);
  const auto got = gbm_em_errors(g, z, n_steps);
  const auto ref = gbm_loop(g, z, n_steps);
  const auto& expected = ref.e;
  const auto where = "lambda = " + std::to_string(g.lambda) + ", sigma = " + std::to_string(g.sigma) +
                     ", x0 = " + std::to_string(g.x0) + ", T = " + std::to_string(g.T) + ", " +
                     std::to_string(n_steps) + " steps over " + std::to_string(n_steps * r) + " fine increments";
  auto near = [](double a, double b) { return std::abs(a - b) < 1e-9 * (1 + std::abs(b)); };
  auto same = [&](const ConvergenceErrors& a, const ConvergenceErrors& b) {
    return near(a.strong, b.strong) && near(a.weak, b.weak);
  };
  if (!same(got, expected)) {
    if (same(got, gbm_loop(g, z, n_steps, Coarse::One).e))
      ADD_FAILURE() << "likely mistake: a coarse increment must be the sum of its r fine increments (the same path as "
                       "the exact solution)"
                    << seed_note();
    if (same(got, gbm_loop(g, z, n_steps, Coarse::Mean).e))
      ADD_FAILURE() << "likely mistake: a coarse increment is the sum of its fine increments, not their mean"
                    << seed_note();
    if (same(got, gbm_loop(g, z, n_steps, Coarse::Sum, false).e))
      ADD_FAILURE() << "likely mistake: the exact X_T is x0 exp((lambda - sigma^2 / 2) T + sigma W_T) (the Ito "
                       "correction is missing)"
                    << seed_note();
    if (near(got.strong, expected.strong) && !near(got.weak, expected.weak) && near(got.weak, ref.mean_abs))
      ADD_FAILURE() << "likely mistake: the weak error is |E[X_EM] - E[X_T]|, the difference of the means, not the "
                       "mean of |X_EM - X_T|"
                    << seed_note();
    if (near(got.strong, expected.strong) && !near(got.weak, expected.weak) && near(got.weak, ref.vs_closed))
      ADD_FAILURE() << "likely mistake: the weak error compares the two sample means over the same paths, not E[X_EM] "
                       "with x0 e^{lambda T}"
                    << seed_note();
  }
  if (std::abs(got.h - expected.h) > 1e-15 * expected.h && std::abs(got.h - g.T / (n_steps * r)) < 1e-15 * g.T)
    ADD_FAILURE() << "likely mistake: h is T / n_steps (the coarse step), not T / n_fine" << seed_note();
  EXPECT_NEAR(got.h, expected.h, 1e-15 * expected.h) << "h = T / n_steps, " << where << seed_note();
  // float64 sums over <= 60 paths in another order: ~1e-15 relative
  EXPECT_NEAR(got.strong, expected.strong, 1e-12 + 1e-10 * expected.strong)
      << "strong error mean |X_EM - X_T|, " << where << seed_note();
  EXPECT_NEAR(got.weak, expected.weak, 1e-12 + 1e-10 * expected.strong)
      << "weak error |mean X_EM - mean X_T|, " << where << seed_note();
}

TEST(Convergence, SlopeIsTheLeastSquaresFitAtTheGradersSeed) {
  const auto n = seeded_int(3, 8, 1511);
  const double p = seeded_scalar(1512, 0.3, 2.5), c = seeded_log(1513, 0.1, 10.0);
  const ArrayXd log_h = seeded_normals(n, 1, 1514).col(0) * 1.5 - 3.0;  // h scattered over ~1e-3..5
  const ArrayXd noise = 0.3 * seeded_normals(n, 1, 1515).col(0);
  std::vector<double> h, exact, noisy;
  for (Eigen::Index i = 0; i < n; ++i) {
    h.push_back(std::exp(log_h(i)));
    exact.push_back(c * std::pow(h.back(), p));
    noisy.push_back(exact.back() * std::exp(noise(i)));
  }
  EXPECT_NEAR(loglog_slope(h, exact), p, 1e-10)
      << "err = " << c << " h^" << p << " has slope " << p << " (" << n << " points)" << seed_note();
  // the least-squares line log err = slope log h + b, solved by QR: the truth for scattered points
  Eigen::MatrixXd a(n, 2);
  Eigen::VectorXd y(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    a(i, 0) = log_h(i);
    a(i, 1) = 1.0;
    y(i) = std::log(noisy[static_cast<std::size_t>(i)]);
  }
  const double slope = a.colPivHouseholderQr().solve(y)(0);
  const double got = loglog_slope(h, noisy);
  double mx = 0, my = 0, sxy = 0, sxx = 0;  // the slip: log h not centred
  for (Eigen::Index i = 0; i < n; ++i) {
    mx += log_h(i) / double(n);
    my += y(i) / double(n);
  }
  for (Eigen::Index i = 0; i < n; ++i) {
    sxy += log_h(i) * (y(i) - my);
    sxx += log_h(i) * log_h(i);
  }
  if (std::abs(got - slope) > 1e-9 * (1 + std::abs(slope))) {
    if (std::abs(got - (y(n - 1) - y(0)) / (log_h(n - 1) - log_h(0))) < 1e-9)
      ADD_FAILURE() << "likely mistake: the slope through the two end points is not the least-squares slope of all "
                       "points"
                    << seed_note();
    double lin = 0, lxx = 0;  // the slope of err itself against log h
    for (Eigen::Index i = 0; i < n; ++i) {
      lin += (log_h(i) - mx) * noisy[static_cast<std::size_t>(i)];
      lxx += (log_h(i) - mx) * (log_h(i) - mx);
    }
    if (std::abs(got - lin / lxx) < 1e-9 * (1 + std::abs(lin / lxx)))
      ADD_FAILURE() << "likely mistake: the slope is fitted on log-log axes: log err against log h, not err"
                    << seed_note();
    if (std::abs(got - sxy / sxx) < 1e-9 * (1 + std::abs(sxy / sxx)))
      ADD_FAILURE() << "likely mistake: the slope is cov(log h, log err) / var(log h): centre log h (mean log h = "
                    << mx << ")" << seed_note();
  }
  EXPECT_NEAR(got, slope, 1e-9 * (1 + std::abs(slope)))
      << "least-squares slope of log err on log h over " << n << " scattered points" << seed_note();
}

}  // namespace
