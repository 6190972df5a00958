// Chapter 05 at the grader's seed: one test per exercise whose inputs (T, step counts, offsets, the
// alpha_bar schedule, alpha_bar_t and alpha_bar_prev, eta, final_alpha_bar, tensors, slerp's alpha)
// are drawn at run time from DM_GRADE_SEED, which `./course grade` draws for every run, so outputs
// hard-coded for the fixed inputs of the golden tests do not pass. Each output is checked against a
// truth computed here, not by another exercise: the spacing formulas in exact integer arithmetic
// (05.1); DDIM's step written out (05.2); the sampler and inversion loops written out over the
// recording fake model and fake parts of ch05_reference.hpp, with a seeded schedule that no spacing
// rule gives (05.3, 05.4: none of 05.1's or 05.2's code runs); slerp's closed form per example in
// plain loops (05.5). Failures name the seed; reproduce them with `./course grade --seed N`.
// Run: build/default/bin/test_05_solutions --gtest_filter='*AtTheGradersSeed'
//      DM_GRADE_SEED=7 build/default/bin/test_05_exercises --gtest_filter='DdimStep.*AtTheGradersSeed'
#include <gtest/gtest.h>

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "05_ddim/ddim.hpp"
#include "ch05_reference.hpp"
#include "testing.hpp"

using namespace dm::ch05;
namespace t5 = dm::ch05::test;
using dm::testing::seed_note;
using dm::testing::seeded_normal;
using dm::testing::seeded_scalar;
using dm::testing::seeded_steps;
using dm::testing::seeded_uniform;
using dm::testing::tensors_close;
using Steps = std::vector<std::int64_t>;

namespace {

const auto kF64 = torch::kFloat64;
const Spacing kAll[] = {Spacing::Leading, Spacing::Trailing, Spacing::Linspace};

std::int64_t seeded_int(std::uint64_t salt, std::int64_t lo, std::int64_t hi) {
  return seeded_steps(1, lo, hi, salt)[0].item<std::int64_t>();
}

void report(const std::string& mistake) {
  if (!mistake.empty()) ADD_FAILURE() << "likely mistake: " << mistake << seed_note();
}

// p / q for p >= 0, q > 0 in integers: rounded with ties to even (numpy's round, the spec), ties away
// from zero (std::round) or truncated (the last two only to name mistakes).
enum class Rounding { HalfEven, HalfAway, Truncate };
std::int64_t divide(std::int64_t p, std::int64_t q, Rounding mode) {
  std::int64_t k = p / q;
  const std::int64_t r = p % q;
  if (mode == Rounding::HalfEven && (2 * r > q || (2 * r == q && k % 2 == 1))) ++k;
  if (mode == Rounding::HalfAway && 2 * r >= q) ++k;
  return k;
}

// The schedules of ddim.hpp, largest t first, entry j (i = n - 1 - j):
//   leading i (T / n) + offset;  trailing round(T - j T / n) - 1 = round(T (n - j) / n) - 1;
//   linspace round(i (T - 1) / (n - 1)), {0} for n = 1.
Steps plain_timesteps(std::int64_t T, std::int64_t n, Spacing sp, std::int64_t offset,
                      Rounding mode = Rounding::HalfEven) {
  Steps ts;
  for (std::int64_t j = 0; j < n; ++j) {
    const std::int64_t i = n - 1 - j;
    switch (sp) {
      case Spacing::Leading:
        ts.push_back(i * (T / n) + offset);
        break;
      case Spacing::Trailing:
        ts.push_back(divide(T * (n - j), n, mode) - 1);
        break;
      case Spacing::Linspace:
        ts.push_back(n == 1 ? 0 : divide(i * (T - 1), n - 1, mode));
        break;
    }
  }
  return ts;
}

Steps plain_previous(const Steps& ts) {
  Steps prev(ts.begin() + 1, ts.end());
  prev.push_back(-1);
  return prev;
}

// The largest leading offset that keeps every timestep in 0..T-1.
std::int64_t max_offset(std::int64_t T, std::int64_t n) { return T - 1 - (n - 1) * (T / n); }

// A seeded schedule: alpha_bar = prod (1 - beta_s) with beta_s uniform in [0.2, 1.8] * 8 / T, so
// alpha_bar falls from ~1 to ~e^-8 whatever T is.
std::vector<double> seeded_alpha_bar(std::int64_t T, std::uint64_t salt) {
  const auto f = seeded_uniform({T}, salt, 0.2, 1.8).to(kF64).contiguous();
  const double* p = f.data_ptr<double>();
  std::vector<double> ab(static_cast<std::size_t>(T));
  double prod = 1;
  for (std::int64_t t = 0; t < T; ++t) ab[std::size_t(t)] = prod *= 1 - p[t] * 8.0 / double(T);
  return ab;
}

// A seeded schedule of n strictly decreasing timesteps in 0..T-1 with uneven gaps (no spacing rule's),
// starting at T - 1 or a little below, as the fake parts return it.
Steps seeded_schedule(std::int64_t T, std::int64_t n, std::uint64_t salt) {
  Steps ts;
  std::int64_t t = T - 1 - seeded_int(salt, 0, std::min<std::int64_t>(3, T - n));
  for (std::int64_t j = 0; j < n; ++j) {
    ts.push_back(t);
    const std::int64_t left = n - 1 - j;  // entries still to place below t
    if (left > 0) t -= seeded_int(salt + 1 + std::uint64_t(j), 1, std::max<std::int64_t>(1, (t - left + 1) / left));
  }
  return ts;
}

torch::Tensor step_noise(const torch::Tensor& x, std::uint64_t salt, std::int64_t i) {
  return seeded_normal(x.sizes().vec(), salt + std::uint64_t(i)).to(x.scalar_type());
}

}  // namespace

// ---- 05.1 -------------------------------------------------------------------------------------------

TEST(Timesteps, FollowThePlainFormulasAtTheGradersSeed) {
  // Three draws of T in [400, 1500] with few (3..20), some (21..200) and many (201..T) steps, T made
  // so that T / steps and (T - 1) / (steps - 1) are not integers (an integer ratio or truncation in
  // trailing or linspace shows); a T and an even step count that make trailing hit ties x.5 (ties to
  // even, not away from zero); 1 and T steps for a T in [10, 1500]. The leading offset is drawn from
  // 1.. the largest that keeps t in 0..T-1 and passed to every spacing (trailing and linspace ignore it). Truth: the
  // formulas of ddim.hpp in exact integer arithmetic, and t_prev as the next entry of that schedule with -1 after the
  // last.
  const std::int64_t ranges[][2] = {{3, 20}, {21, 200}, {201, 1500}};
  for (std::size_t r = 0; r < 6; ++r) {
    const std::uint64_t salt = 5101 + 10 * r;
    std::int64_t T, n;
    if (r < 3) {
      T = seeded_int(salt, 400, 1500);
      n = seeded_int(salt + 1, ranges[r][0], std::min(ranges[r][1], T));
      while (T % n == 0 || (T - 1) % (n - 1) == 0) ++T;  // fractions in trailing and in linspace
    } else if (r == 3) {  // T = n (m + 1/2), n even: trailing's T - j T / n is a tie x.5 at every odd j
      n = 2 * seeded_int(salt + 1, 2, 50);
      T = n * seeded_int(salt, 1, 20) + n / 2;
    } else {
      T = seeded_int(5190, 10, 1500);  // the same T for 1 and for T steps
      n = r == 4 ? 1 : T;
    }
    const std::int64_t offset = seeded_int(salt + 2, std::min<std::int64_t>(1, max_offset(T, n)), max_offset(T, n));
    for (Spacing sp : kAll) {
      const auto expected = plain_timesteps(T, n, sp, offset);
      Steps got;
      std::string hint, threw;
      try {
        got = ddim_timesteps(T, n, sp, offset);
      } catch (const std::exception& e) {
        threw = e.what();
        if (threw.find("is not implemented yet") != std::string::npos) throw;  // the stub: its own line
        if (sp == Spacing::Trailing && threw.find("timestep " + std::to_string(T) + " ") != std::string::npos)
          hint = "trailing subtracts 1: its first timestep is T - 1, and this one reached T";
        ADD_FAILURE() << spacing_name(sp) << ", T = " << T << ", " << n << " steps, offset " << offset
                      << ": ddim_timesteps threw \"" << threw << "\""
                      << (hint.empty() ? "" : "\nlikely mistake: " + hint) << seed_note();
        continue;
      }
      if (got != expected) {
        Steps int_ratio, shifted = expected, plus_one = expected, unshifted = expected, by_steps;
        for (std::int64_t j = 0; j < n; ++j) int_ratio.push_back(T - j * (T / n) - 1);
        for (auto& t : shifted) t += offset;
        for (auto& t : plus_one) t += 1;
        for (auto& t : unshifted) t -= offset;
        for (std::int64_t i = n - 1; i >= 0; --i) by_steps.push_back(divide(i * (T - 1), n, Rounding::HalfEven));
        if (std::int64_t(got.size()) == n - 1 && std::equal(got.begin(), got.end(), expected.begin()))
          hint = "one timestep per sampling step: the smallest one is missing";
        else if (sp == Spacing::Trailing && got == plus_one)
          hint = "trailing subtracts 1: its first timestep is T - 1, not T";
        else if (sp == Spacing::Linspace && n > 1 && got == by_steps)
          hint = "linspace divides by steps - 1: its points run from 0 to T - 1, both included";
        else if (sp == Spacing::Leading && offset != 0 && got == unshifted)
          hint = "leading adds the offset to every timestep";
        else if (sp == Spacing::Trailing && got == int_ratio)
          hint = "trailing uses the real ratio T / steps (a double), not the integer T / steps";
        else if (sp != Spacing::Leading && got == plain_timesteps(T, n, sp, offset, Rounding::Truncate))
          hint = "round to the nearest integer (std::nearbyint), do not truncate";
        else if (sp != Spacing::Leading && got == plain_timesteps(T, n, sp, offset, Rounding::HalfAway))
          hint = "ties go to the even neighbour, as numpy's round does (std::nearbyint), not away from zero";
        else if (sp != Spacing::Leading && offset != 0 && got == shifted)
          hint = "the offset applies to leading spacing only";
        else if (!got.empty() && got.front() < got.back())
          hint = "the schedule must be decreasing: the largest t comes first";
      }
      EXPECT_EQ(got, expected) << spacing_name(sp) << ", T = " << T << ", " << n << " steps, offset " << offset
                               << ": got " << t5::show(got) << ", expected " << t5::show(expected)
                               << (hint.empty() ? "" : "\nlikely mistake: " + hint) << seed_note();
      const auto prev = previous_timesteps(expected);
      const auto want = plain_previous(expected);
      std::string phint;
      if (prev.size() + 1 == expected.size())
        phint = "one t_prev per timestep: the last step goes to t = -1 (the data)";
      else if (!prev.empty() && prev.back() == 0)
        phint = "the last step lands on t = -1 (alpha_bar = 1, the data), not on t = 0";
      else if (prev != want && n > 1 && prev.size() == want.size() && prev[0] == expected[0] - T / n)
        phint = "t_prev is the next entry of the schedule, not t - T/steps (right for leading only)";
      EXPECT_EQ(prev, want) << spacing_name(sp) << ", T = " << T << ", " << n << " steps: t_prev of "
                            << t5::show(expected) << (phint.empty() ? "" : "\nlikely mistake: " + phint) << seed_note();
    }
  }
}

// ---- 05.2 -------------------------------------------------------------------------------------------

TEST(DdimStep, MatchesTheUpdateAtTheGradersSeed) {
  // alpha_bar_t in [0.02, 0.9], alpha_bar_prev a fraction 0.1..0.9 of the way from it to 1, eta in
  // [0.2, 0.9]: sigma^2 is then at least 0.4% of 1 - alpha_bar_prev, every term of the update counts,
  // and a sigma without its eta is at least 10% off.
  const double a = seeded_scalar(5201, 0.02, 0.9), ap = a + (1 - a) * seeded_scalar(5202, 0.1, 0.9);
  const double eta = seeded_scalar(5203, 0.2, 0.9);
  const std::string at = fmt::format("alpha_bar_t = {}, alpha_bar_prev = {}, eta = {}", a, ap, eta);

  // sigma: eta times the posterior's standard deviation across the jump, by Monte Carlo (no formula)
  const std::int64_t n = std::int64_t{1} << 20;
  const auto v = t5::jump_posterior_variance(a, ap, seeded_normal({n}, 5210), seeded_normal({n}, 5211));
  const double got_sigma = ddim_sigma(a, ap, eta);
  const auto verdict = t5::sigma_verdict(a, ap, eta, got_sigma, v);
  EXPECT_TRUE(verdict.ok) << "sigma(eta) = " << got_sigma << ", " << at
                          << "; eta times the posterior's standard deviation is " << eta * std::sqrt(v.value)
                          << " (Monte Carlo, n = " << n << ")" << verdict.note() << seed_note();
  EXPECT_EQ(ddim_sigma(a, ap, 0.0), 0.0) << "eta = 0 gives sigma = 0 exactly, " << at << seed_note();
  const double sigma = got_sigma;  // the step is checked with your own sigma: a slip in sigma costs once

  const std::vector<std::int64_t> shape = {3, 2, 4, 4};
  const auto xt = seeded_scalar(5204, 0.5, 2) * seeded_normal(shape, 5205).to(kF64);
  const auto eps = seeded_normal(shape, 5206).to(kF64), z = seeded_normal(shape, 5207).to(kF64);
  const auto x0 = (xt - std::sqrt(1 - a) * eps) / std::sqrt(a);
  const auto got_x0 = predict_x0(xt, eps, a);
  report(t5::diagnose(
      got_x0, x0,
      {{"x0_hat is missing the 1/sqrt(alpha_bar_t) factor", xt - std::sqrt(1 - a) * eps},
       {"x0_hat divides by alpha_bar_t, not by its square root", (xt - std::sqrt(1 - a) * eps) / a},
       {"the noise is scaled by 1 - alpha_bar_t, not by its square root", (xt - (1 - a) * eps) / std::sqrt(a)}}));
  EXPECT_TRUE(tensors_close("predict_x0, " + at, got_x0, x0, 1e-9, 1e-7)) << seed_note();

  const auto st = ddim_step(xt, eps, a, ap, eta, z);
  ASSERT_TRUE(st.x_prev.defined() && st.x0_hat.defined()) << "ddim_step must fill x_prev and x0_hat" << seed_note();
  const auto x_prev = std::sqrt(ap) * x0 + std::sqrt(1 - ap - sigma * sigma) * eps + sigma * z;
  report(t5::diagnose(st.x_prev, x_prev,
                      {{"x_prev and x0_hat are swapped in the returned struct: it is {x_prev, x0_hat}", x0},
                       {"the direction term lacks the sigma^2: it is sqrt(1 - alpha_bar_prev - sigma^2) eps",
                        std::sqrt(ap) * x0 + std::sqrt(1 - ap) * eps + sigma * z},
                       {"sigma must be squared in the direction term: sqrt(1 - alpha_bar_prev - sigma^2)",
                        std::sqrt(ap) * x0 + std::sqrt(std::max(0.0, 1 - ap - sigma)) * eps + sigma * z},
                       {"sigma must be squared in the direction term: sqrt(1 - alpha_bar_prev - sigma^2)",
                        std::sqrt(ap) * x0 + std::sqrt(1 - ap - sigma) * eps + sigma * z},
                       {"the direction term uses alpha_bar_t: it is sqrt(1 - alpha_bar_prev - sigma^2) eps",
                        std::sqrt(ap) * x0 + std::sqrt(std::max(0.0, 1 - a - sigma * sigma)) * eps + sigma * z},
                       {"the noise term is sigma z, not sigma^2 z",
                        std::sqrt(ap) * x0 + std::sqrt(1 - ap - sigma * sigma) * eps + sigma * sigma * z},
                       {"the data term is sqrt(alpha_bar_prev) x0_hat, not alpha_bar_prev x0_hat",
                        ap * x0 + std::sqrt(1 - ap - sigma * sigma) * eps + sigma * z}}));
  EXPECT_TRUE(tensors_close("x_prev = sqrt(ab_prev) x0_hat + sqrt(1 - ab_prev - sigma^2) eps + sigma z, " + at,
                            st.x_prev, x_prev, 1e-9, 1e-7))
      << seed_note();
  EXPECT_TRUE(tensors_close("ddim_step's x0_hat, " + at, st.x0_hat, x0, 1e-9, 1e-7)) << seed_note();

  // eta = 0 needs no z; the final step (alpha_bar_prev = 1) lands on x0_hat whatever eta is.
  DdimStep det;
  try {
    det = ddim_step(xt, eps, a, ap, 0.0);
  } catch (const std::exception& e) {
    if (std::string(e.what()).find("is not implemented yet") != std::string::npos) throw;
    FAIL() << "ddim_step(eta = 0) without z threw \"" << e.what()
           << "\"\nlikely mistake: add sigma z only when sigma > 0: with eta = 0 there is no z to add" << seed_note();
  }
  ASSERT_TRUE(det.x_prev.defined()) << seed_note();
  EXPECT_TRUE(tensors_close("eta = 0, no z: sqrt(ab_prev) x0_hat + sqrt(1 - ab_prev) eps, " + at, det.x_prev,
                            std::sqrt(ap) * x0 + std::sqrt(1 - ap) * eps, 1e-9, 1e-7))
      << seed_note();
  const double a_last = seeded_scalar(5208, 0.3, 0.999), eta_last = seeded_scalar(5209, 0, 1);
  const auto last = ddim_step(xt, eps, a_last, 1.0, eta_last, z);
  ASSERT_TRUE(last.x_prev.defined()) << seed_note();
  EXPECT_TRUE(
      tensors_close(fmt::format("final step to alpha_bar_prev = 1 from {} (eta = {}): x0_hat", a_last, eta_last),
                    last.x_prev, (xt - std::sqrt(1 - a_last) * eps) / std::sqrt(a_last), 1e-9, 1e-7))
      << seed_note();
}

// ---- 05.3 -------------------------------------------------------------------------------------------

TEST(DdimSampler, RunsTheLoopOverTheFakePartsAtTheGradersSeed) {
  // A seeded schedule of T in [40, 600] levels; three runs of 2..12 steps at seeded uneven timesteps,
  // each with seeded options (spacing and offset, passed on to parts.timesteps), final_alpha_bar 1 or
  // a seeded value in [alpha_bar[0], 1) (each for one run at least), eta = 0 and eta in [0.2, 1], and a
  // fake sigma that is also 0 at one seeded step; x_T [B, D]. The fake model and parts drive both
  // ddim_sample and the loop written out over them (t5::fake_sample): the model's timesteps, the
  // steps' levels, the steps that draw noise, every callback and the result must agree.
  const std::int64_t T = seeded_int(5301, 40, 600);
  const auto ab = seeded_alpha_bar(T, 5302);
  const auto ab_t = t5::to_tensor(ab);
  const std::int64_t B = seeded_int(5303, 1, 4), D = seeded_int(5304, 2, 6);
  const auto xT = seeded_normal({B, D}, 5305).to(kF64);
  const std::size_t coin = std::size_t(seeded_int(5306, 0, 1));
  for (std::size_t k = 0; k < 3; ++k) {
    const std::uint64_t salt = 5310 + 20 * k;
    const std::int64_t n = seeded_int(salt, 2, 12);
    t5::FakeParts proto;
    proto.ts = seeded_schedule(T, n, salt + 1);
    proto.t_prev = t5::next_entries(proto.ts);
    const std::size_t quiet = std::size_t(seeded_int(salt + 15, 0, n - 2));  // a step whose fake sigma is 0
    const double a_quiet = ab[std::size_t(proto.ts[quiet])];
    proto.sigma_rule = [a_quiet](double a, double ap, double eta) {
      return a == a_quiet ? 0.0 : t5::fake_sigma(a, ap, eta);
    };
    const double final_ab = (k + coin) % 2 == 0 ? 1.0 : seeded_scalar(salt + 16, ab[0], 1.0);
    for (double eta : {0.0, seeded_scalar(salt + 17, 0.2, 1.0)}) {
      DdimOptions opt;
      opt.steps = n;
      opt.spacing = kAll[std::size_t(seeded_int(salt + 18, 0, 2))];
      opt.offset = seeded_int(salt + 19, 0, 5);
      opt.eta = eta;
      opt.final_alpha_bar = final_ab;
      const std::string at = fmt::format("T = {}, schedule {}, eta = {}, final_alpha_bar = {}, sigma = 0 at step {}", T,
                                         t5::show(proto.ts), eta, final_ab, quiet);
      const std::uint64_t noise_salt = salt + 100;
      auto f = proto;
      t5::FakeModel model;
      Steps noise_at;
      NoiseFn noise = [&](const torch::Tensor& x, std::int64_t i) {
        noise_at.push_back(i);
        return step_noise(x, noise_salt, i);
      };
      t5::SampleTrace seen;
      StepCallback cb = [&](std::int64_t i, std::int64_t t, const torch::Tensor& x, const torch::Tensor& x0_hat) {
        EXPECT_EQ(i, std::int64_t(seen.t.size())) << "steps are counted 0, 1, ..." << seed_note();
        seen.t.push_back(t);
        seen.x.push_back(x.clone());
        seen.x0_hat.push_back(x0_hat.defined() ? x0_hat.clone() : torch::Tensor());
      };
      const auto out = ddim_sample(f.parts(), model.fn(), ab_t, xT, opt, noise, cb);
      t5::SampleTrace ref;
      const auto expected = t5::fake_sample(
          f, ab, xT, eta, final_ab,
          [&](const torch::Tensor& x, std::int64_t i) { return step_noise(x, noise_salt, i); }, ref);

      ASSERT_EQ(f.schedule_calls.size(), 1u) << "ddim_sample asks parts.timesteps once" << seed_note();
      const auto& sc = f.schedule_calls[0];
      EXPECT_TRUE(sc.T == T && sc.steps == opt.steps && sc.spacing == opt.spacing && sc.offset == opt.offset)
          << "parts.timesteps gets T and opt's steps, spacing and offset (" << at << ")" << seed_note();
      if (!model.problem.empty()) ADD_FAILURE() << "likely mistake: " << model.problem << seed_note();
      const auto calls = model.timesteps();
      report(t5::sampler_calls_mistake(calls, f.ts, f.t_prev));
      EXPECT_EQ(calls, f.ts) << "the model is called once per step, at " << t5::show(f.ts) << "; got "
                             << t5::show(calls) << " (" << at << ")" << seed_note();
      report(t5::sampler_levels_mistake(f.step_calls, f.ts, f.t_prev, ab, final_ab, opt.steps));
      std::vector<double> got_prev, got_t;
      for (const auto& c : f.step_calls) {
        got_t.push_back(c.ab_t);
        got_prev.push_back(c.ab_prev);
      }
      EXPECT_EQ(got_t, ref.ab_t) << "each step starts at alpha_bar(t_i) (" << at << ")" << seed_note();
      EXPECT_EQ(got_prev, ref.ab_prev) << "each step lands on alpha_bar(t_prev_i), final_alpha_bar at -1 (" << at << ")"
                                       << seed_note();
      report(t5::sampler_noise_mistake(noise_at, f.step_calls, ref.noise_at, f.ts.size(), true));
      EXPECT_EQ(noise_at, ref.noise_at) << "noise is drawn exactly at the steps with sigma > 0, "
                                        << t5::show(ref.noise_at) << "; got " << t5::show(noise_at) << " (" << at << ")"
                                        << seed_note();
      ASSERT_TRUE(out.defined()) << seed_note();
      EXPECT_TRUE(tensors_close("x_0 against the loop over the fake parts, " + at, out, expected, 1e-12, 1e-12))
          << seed_note();
      EXPECT_EQ(seen.t, f.ts) << "on_step is called after every step with its t (" << at << ")" << seed_note();
      for (std::size_t i = 0; i < std::min(seen.t.size(), ref.t.size()); ++i) {
        EXPECT_TRUE(tensors_close(fmt::format("on_step x at step {}, {}", i, at), seen.x[i], ref.x[i], 1e-12, 1e-12))
            << seed_note();
        EXPECT_TRUE(tensors_close(fmt::format("on_step x0_hat at step {}, {}", i, at), seen.x0_hat[i], ref.x0_hat[i],
                                  1e-12, 1e-12))
            << seed_note();
      }
    }
  }
}

// ---- 05.4 -------------------------------------------------------------------------------------------

TEST(DdimInversion, WalksTheStepsUpwardsAtTheGradersSeed) {
  // A seeded schedule of T in [40, 600] levels; three runs of 2..12 steps at seeded uneven timesteps,
  // final_alpha_bar 1 or a seeded value in [alpha_bar[0], 1) (each for one run at least) and a seeded
  // eta (which inversion ignores); x0 [B, D]. Truth: the inversion loop written out over the same fake
  // model and fake predict_x0 (t5::fake_invert), called at the target levels from the last step to the
  // first; the sigma and step parts must not be called.
  const std::int64_t T = seeded_int(5401, 40, 600);
  const auto ab = seeded_alpha_bar(T, 5402);
  const auto ab_t = t5::to_tensor(ab);
  const std::int64_t B = seeded_int(5403, 1, 4), D = seeded_int(5404, 2, 6);
  const auto x0 = seeded_scalar(5405, 0.5, 2) * seeded_normal({B, D}, 5406).to(kF64);
  const std::size_t coin = std::size_t(seeded_int(5407, 0, 1));
  for (std::size_t k = 0; k < 3; ++k) {
    const std::uint64_t salt = 5410 + 20 * k;
    t5::FakeParts f;
    f.ts = seeded_schedule(T, seeded_int(salt, 2, 12), salt + 1);
    f.t_prev = t5::next_entries(f.ts);
    f.for_inversion = true;
    DdimOptions opt;
    opt.steps = std::int64_t(f.ts.size());
    opt.spacing = kAll[std::size_t(seeded_int(salt + 18, 0, 2))];
    opt.offset = seeded_int(salt + 19, 0, 5);
    opt.final_alpha_bar = (k + coin) % 2 == 0 ? 1.0 : seeded_scalar(salt + 16, ab[0], 1.0);
    opt.eta = seeded_scalar(salt + 17, 0, 1);
    const std::string at =
        fmt::format("T = {}, schedule {}, final_alpha_bar = {}", T, t5::show(f.ts), opt.final_alpha_bar);
    t5::FakeModel model;
    const auto got = ddim_invert(f.parts(), model.fn(), ab_t, x0, opt);
    t5::InvertTrace ref, ref_swapped;
    const auto expected = t5::fake_invert(f, ab, x0, opt.final_alpha_bar, ref);
    const auto swapped = t5::fake_invert(f, ab, x0, opt.final_alpha_bar, ref_swapped, /*swapped=*/true);

    if (!model.problem.empty()) ADD_FAILURE() << "likely mistake: " << model.problem << seed_note();
    if (!f.problem.empty()) ADD_FAILURE() << "likely mistake: " << f.problem << seed_note();
    const auto calls = model.timesteps();
    report(t5::inversion_calls_mistake(calls, f.ts, f.t_prev));
    EXPECT_EQ(calls, ref.t) << "inversion runs the steps backwards, calling the model at each step's target level "
                            << t5::show(ref.t) << "; got " << t5::show(calls) << " (" << at << ")" << seed_note();
    report(t5::inversion_levels_mistake(f.predict_calls, ref, opt.final_alpha_bar, got, swapped));
    std::vector<double> got_levels;
    for (const auto& c : f.predict_calls) got_levels.push_back(c.ab_t);
    EXPECT_EQ(got_levels, ref.ab_from) << "predict_x0 gets the alpha_bar of the level the point is at, "
                                       << t5::show(ref.ab_from) << " (" << at << ")" << seed_note();
    ASSERT_TRUE(got.defined()) << seed_note();
    EXPECT_TRUE(
        tensors_close("latent against the inversion loop over the fake parts, " + at, got, expected, 1e-12, 1e-12))
        << seed_note();
  }
}

// ---- 05.5 -------------------------------------------------------------------------------------------

TEST(Slerp, FollowsTheGreatCircleAtTheGradersSeed) {
  // B = 6 pairs of [2, 3, 4] noises of different sizes and angles (z1 = c z0 + w, c in [-1.5, 1.5] per
  // example), the first pair scaled down to norms below 1, the last pair parallel (z1 = k z0, the straight-line
  // fallback); alpha in [0.05, 0.45] or [0.55, 0.95]. Truth: theta = arccos(<z0, z1> / (|z0| |z1|)) per example and the
  // closed form, in plain loops.
  const std::int64_t B = 6;
  const std::vector<std::int64_t> shape = {B, 2, 3, 4};
  const double alpha_low = seeded_scalar(5501, 0.05, 0.45);  // away from 1/2, where swapped weights agree
  const double alpha = seeded_int(5507, 0, 1) ? 1 - alpha_low : alpha_low;
  auto z0 = seeded_normal(shape, 5502) * seeded_uniform({B, 1, 1, 1}, 5503, 0.5, 2);
  auto z1 = seeded_uniform({B, 1, 1, 1}, 5504, -1.5, 1.5) * z0 + seeded_normal(shape, 5505);
  z1[B - 1].copy_(seeded_scalar(5506, 0.5, 2) * z0[B - 1]);
  z0[0].mul_(0.05);  // a small pair (same angle): its <z0, z1> is below 1, so a cosine without the norms
  z1[0].mul_(0.05);  // gives a wrong angle there, not the straight-line fallback
  const auto a = z0.reshape({B, -1}).to(kF64).contiguous(), b = z1.reshape({B, -1}).to(kF64).contiguous();
  const std::int64_t D = a.size(1);
  // The closed form per example in plain loops; with a slip only to name a mistake.
  enum class Slip { None, Swapped, CosNotNormalised, CosOverTheBatch, NotDividedBySin };
  const double batch_na = a.square().sum().item<double>(), batch_nb = b.square().sum().item<double>();
  auto closed_form = [&](Slip slip) {
    auto out = torch::empty({B, D}, kF64);
    const double *pa = a.data_ptr<double>(), *pb = b.data_ptr<double>();
    double* po = out.data_ptr<double>();
    for (std::int64_t i = 0; i < B; ++i) {
      double dot = 0, na = 0, nb = 0;
      for (std::int64_t j = 0; j < D; ++j) {
        dot += pa[i * D + j] * pb[i * D + j];
        na += pa[i * D + j] * pa[i * D + j];
        nb += pb[i * D + j] * pb[i * D + j];
      }
      const double norms = slip == Slip::CosNotNormalised  ? 1.0
                           : slip == Slip::CosOverTheBatch ? std::sqrt(batch_na * batch_nb)
                                                           : std::sqrt(na * nb);
      const double theta = std::acos(std::clamp(dot / norms, -1.0, 1.0)), sin = std::sin(theta);
      const double div = slip == Slip::NotDividedBySin ? 1.0 : sin;
      double w0 = sin < 1e-6 ? 1 - alpha : std::sin((1 - alpha) * theta) / div;
      double w1 = sin < 1e-6 ? alpha : std::sin(alpha * theta) / div;
      if (slip == Slip::Swapped && sin >= 1e-6) std::swap(w0, w1);
      for (std::int64_t j = 0; j < D; ++j) po[i * D + j] = w0 * pa[i * D + j] + w1 * pb[i * D + j];
    }
    return out.view(shape);
  };
  const auto expected = closed_form(Slip::None);
  const auto got = slerp(z0, z1, alpha);
  ASSERT_TRUE(got.defined()) << seed_note();
  ASSERT_EQ(got.sizes(), z0.sizes()) << seed_note();
  EXPECT_EQ(got.scalar_type(), torch::kFloat32) << "slerp returns the inputs' dtype" << seed_note();
  ASSERT_FALSE(torch::isnan(got).any().item<bool>())
      << "parallel inputs (sin theta = 0) must not give NaN" << seed_note();
  report(t5::diagnose(
      got, expected,
      {{"this is the straight line (lerp), not slerp", (1 - alpha) * z0 + alpha * z1},
       {"the weights are swapped: z0 gets sin((1 - alpha) theta) / sin theta", closed_form(Slip::Swapped)},
       {"cos theta divides by |z0| |z1|: <z0, z1> alone is not a cosine", closed_form(Slip::CosNotNormalised)},
       {"theta is computed for each example b, from its own norms, not from the whole batch's",
        closed_form(Slip::CosOverTheBatch)},
       {"divide both weights by sin(theta): without it the path leaves the sphere",
        closed_form(Slip::NotDividedBySin)}},
      1e-4, 1e-5));
  EXPECT_TRUE(tensors_close(fmt::format("slerp(z0, z1, {}) per example", alpha), got, expected, 1e-5, 1e-5))
      << seed_note();
}
