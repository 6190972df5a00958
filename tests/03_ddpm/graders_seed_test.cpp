// Chapter 03 at the grader's seed: one test per function of every exercise, on inputs drawn at run time
// from DM_GRADE_SEED (`./course grade` draws it; dm::testing::seeded_*): the schedule (length T and a
// random beta), the timesteps (always some near t = 0 and near T - 1), the embedding's dim and
// max_period, a fake linear model eps_theta(x, t) = a x + c t / T + d, the EMA's steps, decays and
// tensors, and the Gaussians' dimension, means and covariances. Outputs hard-coded for the fixed inputs
// of the other tests do not pass. Each checks against a truth computed here: the sinusoids by a loop in
// double; L_simple of the fake model in double (and the x_t and t it is shown); Algorithm 2 in plain
// doubles; min(max_decay, (1 + step) / (10 + step)) and the EMA recursion by a loop; R R = S for the
// square root (symmetric and PSD, so the unique one); and the Fréchet distance against its closed forms
// (1-D, commuting covariances) and against tr sqrt(S1 S2) from a general (non-symmetric) eigensolver.
// Every failure message ends with the seed, so `./course grade --seed N` repeats it.
// Run: DM_GRADE_SEED=7 build/default/bin/test_03_solutions --gtest_filter='*AtTheGradersSeed'
#include <gtest/gtest.h>

#include <Eigen/Eigenvalues>
#include <Eigen/QR>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "03_ddpm/ddpm.hpp"
#include "03_ddpm/frechet.hpp"
#include "ch03_reference.hpp"
#include "testing.hpp"

using namespace dm::ch03;
using dm::testing::seed_note;
using dm::testing::seeded_normal;
using dm::testing::seeded_scalar;
using dm::testing::tensors_close;

namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

std::int64_t seeded_int(std::int64_t lo, std::int64_t hi, std::uint64_t salt) {
  return dm::testing::seeded_steps(1, lo, hi, salt)[0].item<std::int64_t>();
}
double seeded_log(std::uint64_t salt, double lo, double hi) {
  return std::exp(seeded_scalar(salt, std::log(lo), std::log(hi)));
}
std::vector<double> values(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}
std::string list(const std::vector<double>& v) {
  std::string s;
  for (double x : v) s += (s.empty() ? "" : ", ") + std::to_string(static_cast<std::int64_t>(x));
  return "[" + s + "]";
}

// A random schedule of T steps: beta uniform in [1e-4, 0.04] in no particular order, alpha_bar by a
// plain running product in double (chapter 02's exercises are not used).
Schedule seeded_schedule(std::int64_t T, std::uint64_t salt) {
  const auto beta = values(dm::testing::seeded_uniform({T}, salt, 1e-4, 0.04));
  std::vector<double> ab(beta.size());
  double prod = 1;
  for (std::size_t t = 0; t < beta.size(); ++t) ab[t] = prod *= 1 - beta[t];
  auto b = torch::tensor(beta, kF64);
  return Schedule{b, 1 - b, torch::tensor(ab, kF64)};
}

// [B] timesteps in 0..T-1: one among the first few, one among the last few, the rest anywhere.
torch::Tensor seeded_timesteps(std::int64_t B, std::int64_t T, std::uint64_t salt) {
  auto t = dm::testing::seeded_steps(B, 0, T - 1, salt);
  t[0].fill_(seeded_int(0, 3, salt + 1));
  t[1].fill_(seeded_int(T - 4, T - 1, salt + 2));
  return t;
}

}  // namespace

// ---- 03.1 ------------------------------------------------------------------------------------------

TEST(Embedding, MatchesTheSinusoidsAtTheGradersSeed) {
  const auto B = seeded_int(3, 8, 3101), half = seeded_int(2, 32, 3102), dim = 2 * half;
  const double max_period = seeded_log(3103, 50.0, 20000.0);
  auto t = dm::testing::seeded_steps(B, 0, 1000, 3104);
  t[0].fill_(seeded_int(1, 3, 3105));  // a small t, where even wrong frequencies stay readable
  t[1].fill_(seeded_int(900, 1000, 3106));
  t[2].fill_(0);
  const auto ts = values(t);
  const auto e = sinusoidal_embedding(t, dim, max_period);
  const auto where =
      "dim = " + std::to_string(dim) + ", max_period = " + std::to_string(max_period) + ", t = " + list(ts);
  ASSERT_EQ(e.sizes(), (std::vector<std::int64_t>{B, dim})) << where << seed_note();
  EXPECT_EQ(e.scalar_type(), torch::kFloat32) << "the embedding is float32" << seed_note();
  // freq_i = period^(sign i / denom), i = 0..half-1; the right layout is [sin(t freq_0..), cos(t freq_0..)]
  enum class Layout { SinCos, CosSin, Interleaved };
  auto table = [&](Layout layout, double denom, double sign = -1, double period = 0) {
    const double lp = std::log(period > 0 ? period : max_period);
    std::vector<double> v;
    for (double tb : ts) {
      std::vector<double> sines, cosines;
      for (std::int64_t i = 0; i < half; ++i) {
        const double arg = tb * std::exp(sign * lp * double(i) / denom);
        sines.push_back(std::sin(arg));
        cosines.push_back(std::cos(arg));
      }
      for (std::int64_t i = 0; i < dim; ++i) {
        const auto k = static_cast<std::size_t>(layout == Layout::Interleaved ? i / 2 : i % half);
        const bool sine = layout == Layout::Interleaved ? i % 2 == 0 : (i < half) == (layout == Layout::SinCos);
        v.push_back(sine ? sines[k] : cosines[k]);
      }
    }
    return torch::tensor(v, kF64).reshape({B, dim});
  };
  const auto expected = table(Layout::SinCos, double(half));
  auto mistake = test::diagnose(
      e, expected,
      {{"the cosines come first: the layout is [sines, cosines]", table(Layout::CosSin, double(half))},
       {"sines and cosines are interleaved: all sines first, then all cosines",
        table(Layout::Interleaved, double(half))},
       {"freq_i = max_period^(-i / half): divide by half, not by half - 1", table(Layout::SinCos, double(half - 1))},
       {"freq_i = max_period^(-i / half): divide by half, not by dim", table(Layout::SinCos, double(dim))},
       {"max_period is ignored: the frequencies use 10000", table(Layout::SinCos, double(half), -1, 10000.0)}},
      0, 1e-3);
  // growing frequencies make t freq huge for large t, where float32 scrambles the phase: compare at the small t
  const auto grow = table(Layout::SinCos, double(half), +1);
  if (mistake.empty() && !torch::allclose(e.to(torch::kFloat64), expected, 0, 1e-3) &&
      torch::allclose(e[0].to(torch::kFloat64), grow[0], 0, 0.05) &&
      !torch::allclose(e[0].to(torch::kFloat64), expected[0], 0, 0.05))
    mistake = "the frequencies grow: freq_i = max_period^(-i / half), a negative exponent";
  if (!mistake.empty()) ADD_FAILURE() << "likely mistake: " << mistake << seed_note();
  // float32: the frequencies carry ~2e-7 relative error and t freq ~1e-7 more, so sin(t freq) is off by
  // up to ~2e-7 t (the test allows 3 times that plus 2e-6)
  for (std::int64_t b = 0; b < B; ++b) {
    const double tb = ts[static_cast<std::size_t>(b)];
    EXPECT_TRUE(tensors_close("embedding of t = " + std::to_string(static_cast<std::int64_t>(tb)) + " (" + where + ")",
                              e[b], expected[b], 2e-6 + 6e-7 * tb, 0))
        << seed_note();
  }
}

// ---- 03.2 ------------------------------------------------------------------------------------------

TEST(LSimple, MatchesTheLossOfAFakeModelAtTheGradersSeed) {
  const auto T = seeded_int(50, 1000, 3201);
  const auto s = seeded_schedule(T, 3202);
  const auto B = seeded_int(3, 8, 3203), C = seeded_int(1, 3, 3204), H = seeded_int(2, 8, 3205);
  const auto t = seeded_timesteps(B, T, 3206);
  const auto x0 = seeded_normal({B, C, H, H}, 3209).clamp(-1, 1), eps = seeded_normal({B, C, H, H}, 3210);
  // the fake network: a fixed linear map of x_t and t, so a wrong x_t or a wrong t changes the loss
  const double a = seeded_scalar(3211, 0.3, 1.2), c = seeded_scalar(3212, 0.5, 1.5), d = seeded_scalar(3213, -0.5, 0.5);
  torch::Tensor seen_x, seen_t;
  int calls = 0;
  EpsModel fake = [&](const torch::Tensor& x, const torch::Tensor& tt) {
    ++calls;
    seen_x = x.detach().clone();
    seen_t = tt.detach().clone();
    std::vector<std::int64_t> shape(static_cast<std::size_t>(x.dim()), 1);
    shape[0] = x.size(0);
    return a * x + (c / double(T)) * tt.to(x.scalar_type()).reshape(shape) + d;
  };
  const auto loss = l_simple(s, fake, x0, t, eps);
  const auto where = "T = " + std::to_string(T) + ", t = " + list(values(t)) + ", model " + std::to_string(a) +
                     " x + " + std::to_string(c) + " t / T + " + std::to_string(d);
  ASSERT_TRUE(loss.defined()) << seed_note();
  EXPECT_EQ(loss.dim(), 0) << "the loss is a scalar (the mean over batch and pixels)" << seed_note();
  EXPECT_EQ(calls, 1) << "call the model once, on the whole batch" << seed_note();
  // the truth in double: x_t from the closed form, the model on it, the mean squared error
  const auto abv = values(s.alpha_bar), tv = values(t);
  std::vector<double> ab_t;
  for (double v : tv) ab_t.push_back(abv[static_cast<std::size_t>(v)]);
  auto ab = torch::tensor(ab_t, kF64).reshape({B, 1, 1, 1});
  auto x0d = x0.to(torch::kFloat64), epsd = eps.to(torch::kFloat64);
  auto x_t = ab.sqrt() * x0d + (1 - ab).sqrt() * epsd;
  auto model = a * x_t + (c / double(T)) * torch::tensor(tv, kF64).reshape({B, 1, 1, 1}) + d;
  const double expected = (epsd - model).pow(2).mean().item<double>();
  ASSERT_TRUE(seen_t.defined() && seen_x.defined()) << "l_simple must call eps_theta(x_t, t)" << seed_note();
  if (!torch::equal(seen_t.cpu(), t))
    ADD_FAILURE() << "likely mistake: pass the model the same t that noised x0"
                  << (torch::equal(seen_t.cpu(), t + 1)   ? " (it got t + 1)"
                      : torch::equal(seen_t.cpu(), t - 1) ? " (it got t - 1)"
                                                          : "")
                  << "; " << where << seed_note();
  std::vector<double> alpha_t;
  for (double v : tv) alpha_t.push_back(1 - values(s.beta)[static_cast<std::size_t>(v)]);
  auto al = torch::tensor(alpha_t, kF64).reshape({B, 1, 1, 1});
  const auto slip = test::diagnose(
      seen_x, x_t,
      {{"x0 is scaled by alpha_bar_t instead of sqrt(alpha_bar_t)", ab * x0d + (1 - ab).sqrt() * epsd},
       {"eps is scaled by 1 - alpha_bar_t instead of sqrt(1 - alpha_bar_t)", ab.sqrt() * x0d + (1 - ab) * epsd},
       {"x0 and eps are swapped in x_t", ab.sqrt() * epsd + (1 - ab).sqrt() * x0d},
       {"alpha_t is used where alpha_bar_t belongs", al.sqrt() * x0d + (1 - al).sqrt() * epsd}},
      1e-4, 1e-5);
  if (!slip.empty()) ADD_FAILURE() << "likely mistake: " << slip << seed_note();
  // float32 x_t: ~3e-7 of |x| <= ~5
  EXPECT_TRUE(
      tensors_close("x_t the model sees against sqrt(alpha_bar[t]) x0 + sqrt(1 - alpha_bar[t]) eps (" + where + ")",
                    seen_x, x_t, 1e-5, 1e-5))
      << seed_note();
  const double got = loss.item<double>();
  const double n = double(x0.numel());
  if (std::abs(got - expected * n) < 1e-4 * expected * n)
    ADD_FAILURE() << "likely mistake: the loss is summed; L_simple is the mean over every element" << seed_note();
  const double vs_x0 = (x0d - model).pow(2).mean().item<double>();
  if (std::abs(got - expected) > 1e-4 * expected && std::abs(got - vs_x0) < 1e-4 * vs_x0)
    ADD_FAILURE() << "likely mistake: the regression target is eps, not x0 (eps-prediction)" << seed_note();
  // float32: each difference eps - model is off by a few ulp of (|eps| + |model| + |x_t|), its square by
  // twice that times the difference; the mean of <= 1536 squares adds ~1e-6 relative
  const double spread = (epsd.abs() + model.abs() + x_t.abs()).pow(2).mean().item<double>();
  EXPECT_NEAR(got, expected, 2e-6 * spread + 1e-5 * expected)
      << "L_simple of the fake model (" << where << ")" << seed_note();
}

// ---- 03.3 ------------------------------------------------------------------------------------------

namespace {

enum class Slip {
  None,
  NoNoiseFactor,
  DivideByAlphaBar,
  SigmaSquared,
  NoiseAtZero,
  OtherVariance,
  BetaTildeUpsideDown,
  X0HatByAlphaBar
};

// Algorithm 2 in plain doubles (x, eps, z float64); `slip` makes one known mistake, for diagnoses.
ReverseStep algorithm2(const test::StepScalars& c, std::int64_t t, const torch::Tensor& x, const torch::Tensor& eps,
                       const torch::Tensor& z, Variance var, bool clip, Slip slip = Slip::None) {
  const bool beta_var = (var == Variance::Beta) != (slip == Slip::OtherVariance);
  const double sigma2 = beta_var                            ? c.beta
                        : slip == Slip::BetaTildeUpsideDown ? (1 - c.ab) / (1 - c.ab_prev) * c.beta
                                                            : c.beta_tilde;
  const double sigma = slip == Slip::SigmaSquared ? sigma2 : std::sqrt(sigma2);
  auto x0_hat = (x - std::sqrt(1 - c.ab) * eps) / (slip == Slip::X0HatByAlphaBar ? c.ab : std::sqrt(c.ab));
  torch::Tensor mean;
  if (clip) {  // chapter 02's posterior mean at the clipped x0_hat
    x0_hat = x0_hat.clamp(-1, 1);
    mean = std::sqrt(c.ab_prev) * c.beta / (1 - c.ab) * x0_hat + std::sqrt(c.alpha) * (1 - c.ab_prev) / (1 - c.ab) * x;
  } else {
    const double k = slip == Slip::NoNoiseFactor ? c.beta : c.beta / std::sqrt(1 - c.ab);
    const double div = slip == Slip::DivideByAlphaBar ? std::sqrt(c.ab) : std::sqrt(c.alpha);
    mean = (x - k * eps) / div;
  }
  const bool noise = t > 0 || slip == Slip::NoiseAtZero;
  return {noise ? mean + sigma * z : mean, x0_hat};
}

}  // namespace

TEST(PSample, MatchesAlgorithm2AtTheGradersSeed) {
  const auto T = seeded_int(50, 1000, 3301);
  const auto s = seeded_schedule(T, 3302);
  const auto B = seeded_int(2, 6, 3303), C = seeded_int(1, 3, 3304), H = seeded_int(2, 6, 3305);
  // t = 0 (no noise), the first steps (1 - alpha_bar ~ beta: every factor matters), the middle, the end
  const std::vector<std::int64_t> steps = {0, seeded_int(1, 3, 3306), seeded_int(4, T / 2, 3307),
                                           seeded_int(T / 2, T - 4, 3308), seeded_int(T - 3, T - 1, 3309)};
  for (std::size_t k = 0; k < steps.size(); ++k) {
    const std::int64_t t = steps[k];
    const auto c = test::scalars(s, t);
    const auto x = seeded_normal({B, C, H, H}, 3310 + 3 * k), eps = seeded_normal({B, C, H, H}, 3311 + 3 * k);
    const auto z = seeded_normal({B, C, H, H}, 3312 + 3 * k);
    auto xd = x.to(torch::kFloat64), epsd = eps.to(torch::kFloat64), zd = z.to(torch::kFloat64);
    for (auto var : {Variance::Beta, Variance::BetaTilde}) {
      for (bool clip : {false, true}) {
        const auto where = "T = " + std::to_string(T) + ", t = " + std::to_string(t) +
                           (var == Variance::Beta ? ", sigma^2 = beta" : ", sigma^2 = beta_tilde") +
                           (clip ? ", clip_x0" : "");
        const auto got = p_sample(s, x, t, eps, z, var, clip);
        const auto want = algorithm2(c, t, xd, epsd, zd, var, clip);
        ASSERT_TRUE(got.x_prev.defined() && got.x0_hat.defined()) << where << seed_note();
        ASSERT_EQ(got.x_prev.sizes(), x.sizes()) << where << seed_note();
        ASSERT_EQ(got.x0_hat.sizes(), x.sizes()) << where << seed_note();
        if (!clip) {
          std::vector<std::pair<std::string, torch::Tensor>> mistakes;
          const std::vector<std::pair<Slip, std::string>> slips = {
              {Slip::NoNoiseFactor,
               "the mean is missing the 1/sqrt(1 - alpha_bar_t) factor on eps: mu = 1/sqrt(alpha_t) (x_t - beta_t / "
               "sqrt(1 - alpha_bar_t) eps)"},
              {Slip::DivideByAlphaBar, "the mean divides by sqrt(alpha_bar_t) instead of sqrt(alpha_t)"},
              {Slip::SigmaSquared, "the noise is scaled by sigma_t^2 instead of sigma_t"},
              {Slip::NoiseAtZero, "noise was added at t = 0; the last step returns the mean"},
              {Slip::OtherVariance, var == Variance::Beta ? "Variance::Beta uses beta_tilde: sigma_t^2 = beta_t"
                                                          : "Variance::BetaTilde uses beta: sigma_t^2 = beta_tilde_t"}};
          for (const auto& [sl, label] : slips)
            mistakes.emplace_back(label, algorithm2(c, t, xd, epsd, zd, var, clip, sl).x_prev);
          if (var == Variance::BetaTilde && t > 0)
            mistakes.emplace_back(
                "beta_tilde uses alpha_bar_t where alpha_bar_{t-1} belongs: beta_tilde_t = (1 - "
                "alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t",
                algorithm2(c, t, xd, epsd, zd, var, clip, Slip::BetaTildeUpsideDown).x_prev);
          const auto slip = test::diagnose(got.x_prev, want.x_prev, mistakes, 1e-4, 1e-5);
          if (!slip.empty()) ADD_FAILURE() << where << ", likely mistake: " << slip << seed_note();
          const auto on_x0 = test::diagnose(got.x0_hat, want.x0_hat,
                                            {{"x0_hat divides by alpha_bar_t; divide by its square root",
                                              algorithm2(c, t, xd, epsd, zd, var, clip, Slip::X0HatByAlphaBar).x0_hat}},
                                            1e-4, 1e-5);
          if (!on_x0.empty()) ADD_FAILURE() << where << ", likely mistake: " << on_x0 << seed_note();
        }
        // float32 in and out: x_prev is off by ~1e-6 of |x_prev| <= ~10. x0_hat divides x_t - sqrt(1 - alpha_bar_t)
        // eps, whose float32 rounding is ~1.2e-7 (|x_t| + |eps|), by sqrt(alpha_bar_t), tiny at large t: the test
        // allows 3 times that (and 1e-5 relative)
        const double spread = (xd.abs() + epsd.abs()).max().item<double>();
        EXPECT_TRUE(
            tensors_close("x_prev against Algorithm 2 in double (" + where + ")", got.x_prev, want.x_prev, 1e-5, 1e-5))
            << seed_note();
        EXPECT_TRUE(tensors_close("x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)" +
                                      std::string(clip ? ", clipped to [-1, 1]" : "") + " (" + where + ")",
                                  got.x0_hat, want.x0_hat, 1e-6 + 4e-7 * spread / std::sqrt(c.ab), 1e-5))
            << seed_note();
        if (HasFailure()) return;  // one failing case tells enough
      }
    }
  }
}

// ---- 03.4 ------------------------------------------------------------------------------------------

TEST(Ema, DecayFollowsTheWarmupRuleAtTheGradersSeed) {
  // the first steps, a few tens, thousands, millions; a cap near 1 and one that bites during warmup
  const std::vector<std::int64_t> steps = {seeded_int(0, 5, 3401), seeded_int(6, 60, 3402), seeded_int(61, 5000, 3403),
                                           seeded_int(100000, 10000000, 3404)};
  const std::vector<double> caps = {1 - seeded_log(3405, 1e-5, 1e-2), seeded_scalar(3406, 0.2, 0.6)};
  // what each known mistake returns, over every (cap, step): explained when it matches them all
  const std::vector<std::pair<std::string, double (*)(double, double)>> wrong = {
      {"the decay is not capped at max_decay: min(max_decay, (1 + step) / (10 + step))",
       [](double, double w) { return w; }},
      {"the decay is the smaller of max_decay and the warmup value (min, not max)",
       [](double cap, double w) { return std::max(cap, w); }},
      {"decay(0) is 0: (1 + step) / (10 + step) was computed in integer arithmetic",
       [](double cap, double) { return std::min(cap, 0.0); }},
      {"the decay is (1 + step) / (10 + step), the weight of the OLD average; 1 minus it is the weight of the new "
       "parameters",
       [](double cap, double w) { return std::min(cap, 1 - w); }}};
  std::vector<bool> explains(wrong.size(), true);
  bool all_right = true;
  std::string report;
  for (double cap : caps)
    for (std::int64_t k : steps) {
      const double warmup = (1.0 + double(k)) / (10.0 + double(k));
      const double expected = std::min(cap, warmup), got = ema_decay(k, cap);
      all_right = all_right && std::abs(got - expected) <= 1e-14;
      for (std::size_t m = 0; m < wrong.size(); ++m)
        explains[m] = explains[m] && std::abs(got - wrong[m].second(cap, warmup)) <= 1e-14;
      if (std::abs(got - expected) > 1e-14)
        report += "\n  decay(" + std::to_string(k) + ", max_decay = " + std::to_string(cap) +
                  ") = " + std::to_string(got) +
                  ", expected min(max_decay, (1 + step) / (10 + step)) = " + std::to_string(expected);
    }
  for (std::size_t m = 0; m < wrong.size() && !all_right; ++m)
    if (explains[m]) {
      ADD_FAILURE() << "likely mistake: " << wrong[m].first << seed_note();
      break;
    }
  EXPECT_TRUE(all_right) << "ema_decay at seeded steps and caps:" << report << seed_note();
}

TEST(Ema, UpdateMatchesThePlainLoopAtTheGradersSeed) {
  // three tensors of seeded shapes; parameters that change every update (as in training) and need grad
  const std::vector<std::vector<std::int64_t>> shapes = {
      {seeded_int(1, 6, 3411)}, {seeded_int(1, 5, 3412), seeded_int(1, 5, 3413)}, {2, seeded_int(1, 4, 3414), 3}};
  const auto K = seeded_int(1, 12, 3415);
  std::vector<torch::Tensor> ema, truth;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    ema.push_back(seeded_normal(shapes[i], 3420 + i));
    truth.push_back(ema.back().to(torch::kFloat64));
  }
  std::string decays;
  for (std::int64_t k = 0; k < K; ++k) {
    const double d = seeded_scalar(3430 + static_cast<std::uint64_t>(k), 0.55, 0.995);
    decays += (decays.empty() ? "" : ", ") + std::to_string(d);
    std::vector<torch::Tensor> params, before, previous;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      params.push_back(seeded_normal(shapes[i], 3600 + 10 * static_cast<std::uint64_t>(k) + i).requires_grad_(true));
      before.push_back(params.back().detach().clone());
      previous.push_back(ema[i].to(torch::kFloat64));
    }
    ema_update(ema, params, d);
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      auto p = before[i].to(torch::kFloat64), now = ema[i].to(torch::kFloat64);
      truth[i] = d * truth[i] + (1 - d) * p;  // the decay weighs the OLD average
      EXPECT_TRUE(tensors_close("parameters are left alone", params[i].detach(), before[i], 0, 0)) << seed_note();
      if (!torch::allclose(now, truth[i], 1e-5, 1e-5)) {
        if (torch::equal(now, previous[i]))
          ADD_FAILURE() << "likely mistake: the EMA tensors did not change: update them in place (mul_, add_), not a "
                           "copy (mul)"
                        << seed_note();
        else if (torch::allclose(now, (1 - d) * previous[i] + d * p, 1e-5, 1e-5))
          ADD_FAILURE() << "likely mistake: ema <- decay * ema + (1 - decay) * param; the decay and 1 - decay are "
                           "swapped"
                        << seed_note();
      }
      // float32, <= 12 updates of O(1) values: ~1e-6
      EXPECT_TRUE(tensors_close("EMA tensor " + std::to_string(i) + " after update " + std::to_string(k + 1) +
                                    " against the loop ema <- d ema + (1 - d) param, d = " + decays,
                                ema[i], truth[i], 1e-5, 1e-5))
          << seed_note();
    }
    if (HasFailure()) return;  // the first wrong update tells enough
  }
  for (std::size_t i = 0; i < shapes.size(); ++i)
    EXPECT_FALSE(ema[i].requires_grad()) << "the average is updated without autograd" << seed_note();
}

// ---- 03.5 ------------------------------------------------------------------------------------------

namespace {

Eigen::MatrixXd matrix(const torch::Tensor& t) {
  auto c = t.to(torch::kFloat64).contiguous();
  Eigen::MatrixXd m(c.size(0), c.size(1));
  const double* p = c.data_ptr<double>();
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) m(i, j) = p[i * m.cols() + j];
  return m;
}
// A A^T / k from a seeded [d, k] normal A: symmetric PSD, full rank when k >= d.
Eigen::MatrixXd seeded_gram(std::int64_t d, std::int64_t k, std::uint64_t salt, double scale = 1.0) {
  const Eigen::MatrixXd a = matrix(seeded_normal({d, k}, salt));
  return scale * a * a.transpose() / double(k);
}
Eigen::VectorXd seeded_vector(std::int64_t d, std::uint64_t salt) { return matrix(seeded_normal({d, 1}, salt)).col(0); }

}  // namespace

TEST(Frechet, SquareRootSquaresBackAtTheGradersSeed) {
  const auto d = seeded_int(2, 12, 3501);
  // a full-rank covariance at a seeded scale, and a rank-deficient one whose zero eigenvalues sit just below
  // 0 (-1e-13 of its scale, as round-off leaves them), so that the clamp at 0 matters
  const auto rank = seeded_int(1, d - 1, 3502);
  Eigen::MatrixXd low = seeded_gram(d, rank, 3506);
  low -= 1e-13 * low.cwiseAbs().maxCoeff() * Eigen::MatrixXd::Identity(d, d);
  const std::vector<std::pair<std::string, Eigen::MatrixXd>> cases = {
      {"full rank", seeded_gram(d, d + seeded_int(1, 5, 3503), 3504, seeded_log(3505, 1e-2, 1e2))},
      {"rank " + std::to_string(rank), low}};
  for (const auto& [name, s] : cases) {
    const auto where = name + " " + std::to_string(d) + "x" + std::to_string(d) + " covariance";
    const Eigen::MatrixXd r = sqrtm_psd(s);
    ASSERT_EQ(r.rows(), d) << where << seed_note();
    ASSERT_EQ(r.cols(), d) << where << seed_note();
    const double scale = s.cwiseAbs().maxCoeff(), root_scale = std::sqrt(scale);
    // the known mistakes, named before the checks
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es_s(s);
    const Eigen::MatrixXd v = es_s.eigenvectors();
    const Eigen::VectorXd root = es_s.eigenvalues().cwiseMax(0.0).cwiseSqrt();
    const Eigen::MatrixXd right = v * root.asDiagonal() * v.transpose();
    auto near = [&](const Eigen::MatrixXd& a, const Eigen::MatrixXd& b, double tol) {
      return ((a.array().isNaN() == b.array().isNaN()).all()) &&
             (a.array().isNaN()).select(0.0, (a - b).array().abs()).maxCoeff() <= tol;
    };
    if (!near(r, right, 1e-9 * root_scale)) {
      if (near(r, s.cwiseSqrt(), 1e-9 * root_scale))
        ADD_FAILURE() << "likely mistake: sqrtm_psd took element-wise square roots; the matrix square root goes "
                         "through the eigendecomposition"
                      << seed_note();
      else if (near(r, v.transpose() * root.asDiagonal() * v, 1e-9 * root_scale))
        ADD_FAILURE() << "likely mistake: the square root is V diag(sqrt l) V^T, not V^T diag(sqrt l) V" << seed_note();
      else if (near(r, s, 1e-9 * scale))
        ADD_FAILURE() << "likely mistake: sqrtm_psd returns S itself: take the square roots of the eigenvalues"
                      << seed_note();
    }
    ASSERT_FALSE(r.hasNaN()) << where
                             << ": likely mistake: clamp eigenvalues below 0 (round-off) to 0 before the square root"
                             << seed_note();
    // R R = S, R symmetric, R PSD: together they single out the principal square root
    EXPECT_LT((r * r - s).cwiseAbs().maxCoeff(), 1e-10 * scale)
        << where << ": sqrtm_psd(S)^2 must give S" << seed_note();
    EXPECT_LT((r - r.transpose()).cwiseAbs().maxCoeff(), 1e-12 * root_scale)
        << where << ": the square root must be symmetric" << seed_note();
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(0.5 * (r + r.transpose()), Eigen::EigenvaluesOnly);
    EXPECT_GE(es.eigenvalues().minCoeff(), -1e-7 * root_scale)
        << where << ": the square root must be positive semi-definite (take the non-negative root of each eigenvalue)"
        << seed_note();
  }
}

TEST(Frechet, DistanceMatchesTheClosedFormsAtTheGradersSeed) {
  // 1-D: (m1 - m2)^2 + (s1 - s2)^2 with standard deviations s
  {
    const double m1 = seeded_scalar(3511, -2, 2), m2 = seeded_scalar(3512, -2, 2);
    const double v1 = seeded_log(3513, 0.01, 10), v2 = seeded_log(3514, 0.01, 10);
    Eigen::VectorXd a(1), b(1);
    a << m1;
    b << m2;
    Eigen::MatrixXd s1(1, 1), s2(1, 1);
    s1 << v1;
    s2 << v2;
    const double expected = (m1 - m2) * (m1 - m2) + std::pow(std::sqrt(v1) - std::sqrt(v2), 2);
    const double got = frechet_distance(a, s1, b, s2);
    if (std::abs(got - expected) > 1e-10 * (1 + expected) &&
        std::abs(got - ((m1 - m2) * (m1 - m2) + (v1 - v2) * (v1 - v2))) < 1e-10 * (1 + expected))
      ADD_FAILURE() << "likely mistake: in 1-D FD = (m1 - m2)^2 + (s1 - s2)^2 with standard deviations, not variances"
                    << seed_note();
    EXPECT_NEAR(got, expected, 1e-11 * (1 + expected))
        << "1-D: means " << m1 << ", " << m2 << ", variances " << v1 << ", " << v2 << seed_note();
  }
  const auto d = seeded_int(2, 10, 3515);
  const Eigen::VectorXd mu1 = seeded_vector(d, 3516), mu2 = seeded_vector(d, 3517);
  // commuting covariances Q diag(l) Q^T: FD = ||mu1 - mu2||^2 + sum_i (sqrt(l1_i) - sqrt(l2_i))^2
  {
    Eigen::HouseholderQR<Eigen::MatrixXd> qr(matrix(seeded_normal({d, d}, 3518)));
    const Eigen::MatrixXd q = qr.householderQ();
    const Eigen::VectorXd l1 = matrix(dm::testing::seeded_uniform({d, 1}, 3519, 0.05, 3.0)).col(0);
    const Eigen::VectorXd l2 = matrix(dm::testing::seeded_uniform({d, 1}, 3520, 0.05, 3.0)).col(0);
    const Eigen::MatrixXd s1 = q * l1.asDiagonal() * q.transpose(), s2 = q * l2.asDiagonal() * q.transpose();
    const double expected = (mu1 - mu2).squaredNorm() + (l1.cwiseSqrt() - l2.cwiseSqrt()).squaredNorm();
    EXPECT_NEAR(frechet_distance(mu1, s1, mu2, s2), expected, 1e-9 * (1 + expected))
        << d << "-D covariances with the same eigenvectors" << seed_note();
  }
  // general covariances: tr sqrt(S1 S2) is the sum of the square roots of the (real, >= 0) eigenvalues of
  // the non-symmetric S1 S2 (Heusel et al.'s form), computed by a general eigensolver
  const Eigen::MatrixXd s1 = seeded_gram(d, d + 3, 3521, seeded_log(3522, 0.1, 10));
  const Eigen::MatrixXd s2 = seeded_gram(d, d + 3, 3523, seeded_log(3524, 0.1, 10));
  Eigen::EigenSolver<Eigen::MatrixXd> es(s1 * s2, false);
  double tr_sqrt = 0, tr = 0;
  for (Eigen::Index i = 0; i < d; ++i) {
    const double l = std::max(0.0, es.eigenvalues()(i).real());
    tr_sqrt += std::sqrt(l);
    tr += l;
  }
  const double dmu2 = (mu1 - mu2).squaredNorm(), traces = s1.trace() + s2.trace();
  const double expected = dmu2 + traces - 2 * tr_sqrt;
  const double got = frechet_distance(mu1, s1, mu2, s2), back = frechet_distance(mu2, s2, mu1, s1);
  const double scale = 1 + dmu2 + traces;  // the terms that cancel
  if (std::abs(got - expected) > 1e-8 * scale) {
    const std::vector<std::pair<std::string, double>> wrong = {
        {"the trace term is 2 tr (S1^1/2 S2 S1^1/2)^1/2: the factor 2 is missing", dmu2 + traces - tr_sqrt},
        {"tr of the square root is the sum of the square roots of the eigenvalues, not the square root of the trace",
         dmu2 + traces - 2 * std::sqrt(tr)},
        {"tr (S1^1/2 S2 S1^1/2)^1/2 needs the square roots of the eigenvalues, not tr (S1 S2)", dmu2 + traces - 2 * tr},
        {"the mean term is the squared distance ||mu1 - mu2||^2, not the distance",
         std::sqrt(dmu2) + traces - 2 * tr_sqrt}};
    for (const auto& [label, value] : wrong)
      if (std::abs(got - std::max(value, 0.0)) < 1e-8 * scale) {
        ADD_FAILURE() << "likely mistake: " << label << seed_note();
        break;
      }
  }
  EXPECT_NEAR(got, expected, 1e-8 * scale) << d << "-D general covariances against tr sqrt(S1 S2)" << seed_note();
  EXPECT_NEAR(back, got, 1e-8 * scale) << "the Fréchet distance is symmetric" << seed_note();
  // identical Gaussians: 0 up to round-off, which may fall on either side of 0; a dozen of them
  for (std::uint64_t k = 0; k < 12; ++k) {
    const auto dk = seeded_int(2, 10, 3530 + k);
    const Eigen::MatrixXd s = seeded_gram(dk, dk + 2, 3550 + k, seeded_log(3570 + k, 0.1, 10));
    const Eigen::VectorXd mu = seeded_vector(dk, 3590 + k);
    const double same = frechet_distance(mu, s, mu, s);
    if (same < 0 && std::abs(got - expected) <= 1e-8 * scale) {  // (a wrong distance fails above)
      ADD_FAILURE() << "likely mistake: clamp round-off below 0 to 0: FD(N, N) = " << same << " for a " << dk << "-D "
                    << "Gaussian" << seed_note();
      break;
    }
    EXPECT_LT(same, 1e-8 * (1 + s.trace())) << "identical " << dk << "-D Gaussians are at distance 0" << seed_note();
  }
}
