// Exercise 04.7: the sampler loop run_sampler, driven with recording fakes: steps that record the (x, t, h)
// they are called with and return known affine maps, a score that records the times it is evaluated at,
// and numbered noise (draw i is fixed_normal(seed + i)). The expected states come from the same loop
// written out here, so no other exercise's code runs.
// The likeliest mistakes, each named by a test below (its name in brackets):
//   - the grid off by one (N + 1 steps), or stopping short of t_min              [WalksTheGrid...]
//   - time running forwards, from t_min up to 1                                  [WalksTheGrid...]
//   - h computed from 1 instead of 1 - t_min (the last step ends at 0)           [WalksTheGrid...]
//   - the steps given the end of their interval, t - h, instead of its start t   [WalksTheGrid...]
//   - Heun spending nfe steps, Langevin nfe levels or one step per level         [SpendsTheBudget...]
//   - Langevin at the current level t instead of the level it moves to, t - h    [TakesLangevinSteps...]
//   - the Langevin step size computed once per level, not for each step          [TakesLangevinSteps...]
//   - the noise drawn once for all steps                                         [DrawsFreshNoise...]
//   - every step starting from x1 instead of the previous step's state           [StartsEachStep...]
//   - the path missing the first or the last state, the last state kept twice,
//     or keep_every ignored                                                      [KeepsTheFirstState...]
// Run one test: build/default/bin/test_04_exercises --gtest_filter='RunSampler.*'
#include <gtest/gtest.h>

#include <fmt/core.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "04_score_sde/samplers.hpp"
#include "ch04_reference.hpp"
#include "testing.hpp"

using namespace dm::ch04;
using dm::testing::fixed_normal;
using dm::testing::seed_note;
using dm::testing::tensors_close;

namespace {

const auto kF64 = torch::kFloat64;
constexpr double kTimeTol = 1e-12;

// A VP-SDE other than the default, so a step that gets another one shows.
VpSde test_sde() {
  VpSde sde;
  sde.beta_min = 0.2;
  sde.beta_max = 8;
  return sde;
}

// ---- the fakes, as plain functions (the recorder below and the loop written out both call them) ----
// The score: depends on x and on t, so a score taken at the wrong time shows.
torch::Tensor fake_score(const torch::Tensor& x, double t) { return -(x - 0.2 * t) / (0.5 + t); }
// Draw i of the noise: fixed_normal(seed + i), x's shape and dtype.
torch::Tensor numbered_noise(const torch::Tensor& x, std::uint64_t seed, std::uint64_t i) {
  return fixed_normal(x.sizes().vec(), seed + i).to(x.scalar_type());
}
// Known affine maps with the signatures of steps.hpp; each uses the sde and calls the score it is given
// as often as the real step does (Heun: twice, at t and at t - h).
torch::Tensor fake_langevin_step(const torch::Tensor& x, const torch::Tensor& s, double delta, const torch::Tensor& z) {
  return x + 0.5 * delta * s + 0.3 * std::sqrt(delta) * z;
}
double fake_step_size(double r) { return 0.5 * r * r; }
torch::Tensor fake_reverse_step(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t, double h,
                                const torch::Tensor& z) {
  return x + 0.1 * h * sde.beta(t) * (x + score(x, t)) + 0.2 * std::sqrt(h) * z;
}
torch::Tensor fake_euler_step(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t, double h) {
  return x + 0.05 * h * sde.beta(t) * (x + score(x, t));
}
torch::Tensor fake_heun_step(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t, double h) {
  const auto v1 = 0.05 * sde.beta(t) * (x + score(x, t));
  const auto xe = x + h * v1;
  const auto v2 = 0.05 * sde.beta(t - h) * (xe + score(xe, t - h));
  return x + 0.5 * h * (v1 + v2);
}

// One call of a step function: which one, and the (x, t, h) it got (Langevin steps have no t or h).
struct Call {
  std::string step;
  torch::Tensor x;
  double t = 0, h = 0;
};

// Every call the parts receive, in order.
struct Recorder {
  std::uint64_t noise_seed = 900;
  std::uint64_t draws = 0;
  std::vector<Call> calls;
  std::vector<double> score_t;                        // the time of every score evaluation
  std::vector<torch::Tensor> score_out;               // what each evaluation returned
  std::vector<torch::Tensor> noise_out;               // every noise draw
  std::vector<torch::Tensor> z_given;                 // the z of every reverse-SDE or Langevin step
  std::vector<double> r_given, delta_given;           // langevin_step_size's r, langevin_step's delta
  std::vector<torch::Tensor> size_s, size_z, step_s;  // the score and z langevin_step_size got; langevin_step's s

  ScoreFn score() {
    return [this](const torch::Tensor& x, double t) {
      score_t.push_back(t);
      score_out.push_back(fake_score(x, t));
      return score_out.back();
    };
  }
  NoiseFn noise() {
    return [this](const torch::Tensor& x) {
      noise_out.push_back(numbered_noise(x, noise_seed, draws++));
      return noise_out.back();
    };
  }
  SamplerSteps steps() {
    SamplerSteps s;
    s.langevin_step = [this](const torch::Tensor& x, const torch::Tensor& sx, double delta, const torch::Tensor& z) {
      calls.push_back({"langevin", x.clone(), 0.0, 0.0});
      step_s.push_back(sx.clone());
      z_given.push_back(z.clone());
      delta_given.push_back(delta);
      return fake_langevin_step(x, sx, delta, z);
    };
    s.langevin_step_size = [this](const torch::Tensor& sx, const torch::Tensor& z, double r) {
      size_s.push_back(sx.clone());
      size_z.push_back(z.clone());
      r_given.push_back(r);
      return fake_step_size(r);
    };
    s.reverse_sde_step = [this](const VpSde& sde, const ScoreFn& sc, const torch::Tensor& x, double t, double h,
                                const torch::Tensor& z) {
      calls.push_back({"reverse_sde", x.clone(), t, h});
      z_given.push_back(z.clone());
      return fake_reverse_step(sde, sc, x, t, h, z);
    };
    s.pf_ode_euler_step = [this](const VpSde& sde, const ScoreFn& sc, const torch::Tensor& x, double t, double h) {
      calls.push_back({"pf_ode_euler", x.clone(), t, h});
      return fake_euler_step(sde, sc, x, t, h);
    };
    s.pf_ode_heun_step = [this](const VpSde& sde, const ScoreFn& sc, const torch::Tensor& x, double t, double h) {
      calls.push_back({"pf_ode_heun", x.clone(), t, h});
      return fake_heun_step(sde, sc, x, t, h);
    };
    return s;
  }
  std::vector<double> ts() const {
    std::vector<double> v;
    for (const auto& c : calls) v.push_back(c.t);
    return v;
  }
  std::vector<double> hs() const {
    std::vector<double> v;
    for (const auto& c : calls) v.push_back(c.h);
    return v;
  }
};

// The number of steps opt.nfe buys for `sampler` (SamplerOptions).
std::int64_t steps_for(Sampler sampler, const SamplerOptions& opt) {
  const std::int64_t per_step = sampler == Sampler::PfOdeHeun ? 2 : sampler == Sampler::Langevin ? opt.langevin_m : 1;
  return std::max<std::int64_t>(1, opt.nfe / per_step);
}

struct Expected {
  torch::Tensor x;                  // the final state
  std::vector<torch::Tensor> path;  // the kept states
};

// The same loop, written out with the fakes.
Expected reference_loop(Sampler sampler, const VpSde& sde, torch::Tensor x, const SamplerOptions& opt,
                        std::uint64_t noise_seed) {
  const ScoreFn score = fake_score;
  const std::int64_t N = steps_for(sampler, opt);
  const double h = (1.0 - opt.t_min) / double(N);
  std::uint64_t draws = 0;
  Expected e;
  e.path.push_back(x);
  for (std::int64_t k = 0; k < N; ++k) {
    const double t = 1.0 - double(k) * h;
    if (sampler == Sampler::Langevin) {
      for (std::int64_t j = 0; j < opt.langevin_m; ++j) {
        const auto s = fake_score(x, t - h);
        const auto z = numbered_noise(x, noise_seed, draws++);
        x = fake_langevin_step(x, s, fake_step_size(opt.langevin_snr), z);
      }
    } else if (sampler == Sampler::ReverseSde) {
      x = fake_reverse_step(sde, score, x, t, h, numbered_noise(x, noise_seed, draws++));
    } else if (sampler == Sampler::PfOdeEuler) {
      x = fake_euler_step(sde, score, x, t, h);
    } else {
      x = fake_heun_step(sde, score, x, t, h);
    }
    if ((opt.keep_every > 0 && (k + 1) % opt.keep_every == 0) || k + 1 == N) e.path.push_back(x);
  }
  e.x = x;
  return e;
}

bool near(double a, double b) { return std::abs(a - b) <= kTimeTol; }
bool all_near(const std::vector<double>& v, const std::vector<double>& w) {
  if (v.size() != w.size()) return false;
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!near(v[i], w[i])) return false;
  return true;
}
bool same(const torch::Tensor& a, const torch::Tensor& b) {
  return a.defined() && b.defined() && a.sizes() == b.sizes() && torch::allclose(a, b, 1e-9, 1e-12);
}
void report(const std::string& mistake) {
  if (!mistake.empty()) ADD_FAILURE() << "likely mistake: " << mistake;
}
// A time for a message: rounding-level values print as 0.
std::string time_str(double t) { return fmt::format("{:.4g}", std::abs(t) < 1e-12 ? 0.0 : t); }

// Which mistake of the time grid the recorded (t, h) of N steps from 1 down to t_min look like.
std::string grid_mistake(const std::vector<double>& ts, const std::vector<double>& hs, std::int64_t N, double t_min) {
  const double h = (1.0 - t_min) / double(N);
  std::vector<double> want, ends;
  for (std::int64_t k = 0; k < N; ++k) want.push_back(1.0 - double(k) * h), ends.push_back(1.0 - double(k + 1) * h);
  if (ts.empty()) return "no step was taken";
  if (all_near(ts, want) && all_near(hs, std::vector<double>(ts.size(), h))) return "";
  if (ts.size() >= 2 && ts[1] > ts[0]) return "time runs forwards: the steps go from t_min up to 1";
  if (static_cast<std::int64_t>(ts.size()) == N + 1) return "the grid is off by one: N + 1 steps instead of N";
  const double end = ts.back() - hs.back();  // where the last step lands
  if (near(hs.front(), 1.0 / double(N)))
    return "h is computed from 1 instead of 1 - t_min: the last step ends at t = " + time_str(end) + ", not t_min";
  if (all_near(ts, ends)) return "each step is given the time it moves to, t - h, instead of the time it starts from";
  if (static_cast<std::int64_t>(ts.size()) < N || end > t_min + 1e-9)
    return "the loop stops short of t_min: the last step ends at t = " + time_str(end);
  return "";
}

}  // namespace

TEST(RunSampler, MatchesReferenceOnGoldenValues) {
  SamplerOptions opt;
  opt.nfe = 6;
  opt.t_min = 0.02;
  opt.langevin_m = 2;
  opt.langevin_snr = 0.3;
  const auto x1 = fixed_normal({4, 2}, 901).to(kF64);
  for (auto sampler : kSamplers) {
    Recorder r;
    const auto x = run_sampler(sampler, r.steps(), test_sde(), r.score(), x1, opt, r.noise());
    EXPECT_TRUE(
        dm::testing::golden(test::kGolden, fmt::format("run_sampler/{}/nfe=6", sampler_name(sampler)), x, 1e-9, 1e-9));
  }
}

TEST(RunSampler, WalksTheGridFromOneDownToTMin) {
  SamplerOptions opt;
  opt.nfe = 5;
  opt.t_min = 0.05;
  const std::int64_t N = 5;
  const double h = (1.0 - opt.t_min) / double(N);
  const auto x1 = fixed_normal({3, 2}, 902).to(kF64);
  for (auto sampler : {Sampler::ReverseSde, Sampler::PfOdeEuler}) {
    Recorder r;
    const auto x = run_sampler(sampler, r.steps(), test_sde(), r.score(), x1, opt, r.noise());
    const auto ts = r.ts(), hs = r.hs();
    report(grid_mistake(ts, hs, N, opt.t_min));
    ASSERT_EQ(ts.size(), std::size_t(N)) << sampler_name(sampler) << ": nfe = 5 buys 5 steps";
    for (std::int64_t k = 0; k < N; ++k) {
      EXPECT_NEAR(ts[k], 1.0 - double(k) * h, kTimeTol) << sampler_name(sampler) << ": step " << k << " starts at t_k";
      EXPECT_NEAR(hs[k], h, kTimeTol) << sampler_name(sampler) << ": step " << k << "'s h";
    }
    EXPECT_NEAR(ts.back() - hs.back(), opt.t_min, kTimeTol) << sampler_name(sampler) << ": the last step ends at t_min";
    EXPECT_TRUE(tensors_close(sampler_name(sampler), x, reference_loop(sampler, test_sde(), x1, opt, r.noise_seed).x,
                              1e-10, 1e-9));
  }
}

TEST(RunSampler, SpendsTheBudgetOfScoreEvaluations) {
  SamplerOptions opt;
  opt.nfe = 12;
  opt.t_min = 0.01;
  opt.langevin_m = 3;
  const auto x1 = fixed_normal({3, 2}, 903).to(kF64);
  for (auto sampler : kSamplers) {
    Recorder r;
    const auto x = run_sampler(sampler, r.steps(), test_sde(), r.score(), x1, opt, r.noise());
    const auto n_steps = static_cast<std::int64_t>(r.calls.size());
    if (sampler == Sampler::PfOdeHeun && n_steps == opt.nfe)
      report("Heun takes nfe steps: two score evaluations each, so twice the budget");
    if (sampler == Sampler::Langevin && n_steps == opt.nfe * opt.langevin_m)
      report("Langevin takes nfe levels: langevin_m score evaluations each, so langevin_m times the budget");
    if (sampler == Sampler::Langevin && n_steps == opt.nfe / opt.langevin_m)
      report("Langevin takes one step per level instead of langevin_m");
    const std::int64_t want = sampler == Sampler::Langevin ? opt.nfe : steps_for(sampler, opt);
    EXPECT_EQ(n_steps, want) << sampler_name(sampler) << ": step calls for nfe = 12 (langevin_m = 3)";
    EXPECT_EQ(static_cast<std::int64_t>(r.score_t.size()), opt.nfe)
        << sampler_name(sampler) << ": score evaluations, the budget nfe = 12";
    EXPECT_TRUE(tensors_close(sampler_name(sampler), x, reference_loop(sampler, test_sde(), x1, opt, r.noise_seed).x,
                              1e-10, 1e-9));
  }
  // A budget below one step's cost still buys one step.
  opt.nfe = 1;
  for (auto sampler : {Sampler::PfOdeHeun, Sampler::Langevin}) {
    Recorder r;
    const auto x = run_sampler(sampler, r.steps(), test_sde(), r.score(), x1, opt, r.noise());
    if (r.calls.empty()) report("no step is taken when nfe is below the cost of one step");
    EXPECT_EQ(r.calls.size(), std::size_t(sampler == Sampler::Langevin ? opt.langevin_m : 1))
        << sampler_name(sampler) << " with nfe = 1: one step (one level) at least";
    EXPECT_TRUE(tensors_close(fmt::format("{}, nfe = 1", sampler_name(sampler)), x,
                              reference_loop(sampler, test_sde(), x1, opt, r.noise_seed).x, 1e-10, 1e-9));
  }
}

TEST(RunSampler, TakesLangevinStepsAtTheLevelItMovesTo) {
  SamplerOptions opt;
  opt.nfe = 8;
  opt.t_min = 0.1;
  opt.langevin_m = 2;
  opt.langevin_snr = 0.35;
  const std::int64_t N = 4;
  const double h = (1.0 - opt.t_min) / double(N);
  const auto x1 = fixed_normal({3, 2}, 904).to(kF64);
  Recorder r;
  const auto x = run_sampler(Sampler::Langevin, r.steps(), test_sde(), r.score(), x1, opt, r.noise());
  std::vector<double> target, current;
  for (std::int64_t k = 0; k < N; ++k)
    for (std::int64_t j = 0; j < opt.langevin_m; ++j)
      target.push_back(1.0 - double(k + 1) * h), current.push_back(1.0 - double(k) * h);
  if (!all_near(r.score_t, target) && all_near(r.score_t, current))
    report("Langevin steps at the current level t_k instead of the level it moves to, t_k - h");
  ASSERT_EQ(r.score_t.size(), target.size()) << "langevin_m = 2 score evaluations at each of 4 levels";
  for (std::size_t i = 0; i < target.size(); ++i)
    EXPECT_NEAR(r.score_t[i], target[i], kTimeTol) << "score evaluation " << i << ": the level moved to";
  // Each Langevin step: the score there, its own z, the step size of those two at r = langevin_snr.
  ASSERT_EQ(r.calls.size(), target.size());
  if (r.r_given.size() == std::size_t(N))
    report("the Langevin step size is computed once per level, not for each step from its own score and noise");
  ASSERT_EQ(r.r_given.size(), r.calls.size()) << "one langevin_step_size call per Langevin step";
  bool own_draws = true;
  for (std::size_t i = 0; i < r.calls.size(); ++i) {
    EXPECT_NEAR(r.r_given[i], opt.langevin_snr, 1e-15) << "langevin_step_size gets r = opt.langevin_snr";
    EXPECT_NEAR(r.delta_given[i], fake_step_size(opt.langevin_snr), 1e-15)
        << "langevin_step gets the step size langevin_step_size returned";
    EXPECT_TRUE(same(r.step_s[i], r.score_out[i])) << "Langevin step " << i << " gets the score at its own x";
    own_draws = own_draws && same(r.size_s[i], r.step_s[i]) && same(r.size_z[i], r.z_given[i]);
  }
  if (!own_draws) report("the Langevin step size is not computed from that step's own score and noise");
  EXPECT_TRUE(tensors_close("langevin", x, reference_loop(Sampler::Langevin, test_sde(), x1, opt, r.noise_seed).x,
                            1e-10, 1e-9));
}

TEST(RunSampler, DrawsFreshNoiseForEveryStep) {
  SamplerOptions opt;
  opt.nfe = 6;
  opt.t_min = 0.01;
  opt.langevin_m = 2;
  const auto x1 = fixed_normal({3, 2}, 905).to(kF64);
  for (auto sampler : {Sampler::ReverseSde, Sampler::Langevin}) {
    Recorder r;
    const auto x = run_sampler(sampler, r.steps(), test_sde(), r.score(), x1, opt, r.noise());
    const std::size_t want = 6;  // Langevin: 3 levels of 2 steps; the reverse SDE: 6 steps
    bool once = r.z_given.size() > 1;
    for (std::size_t i = 1; i < r.z_given.size(); ++i) once = once && same(r.z_given[i], r.z_given[0]);
    if (once) report("the noise is drawn once for all steps");
    ASSERT_EQ(r.z_given.size(), want) << sampler_name(sampler) << ": steps that take noise";
    for (std::size_t i = 0; i < want; ++i)
      EXPECT_TRUE(same(r.z_given[i], numbered_noise(x1, r.noise_seed, i)))
          << sampler_name(sampler) << ": step " << i << " gets the noise's draw " << i;
    EXPECT_TRUE(tensors_close(sampler_name(sampler), x, reference_loop(sampler, test_sde(), x1, opt, r.noise_seed).x,
                              1e-10, 1e-9));
  }
}

TEST(RunSampler, StartsEachStepFromThePreviousStepsState) {
  SamplerOptions opt;
  opt.nfe = 4;
  opt.t_min = 0.01;
  opt.keep_every = 1;
  const auto x1 = fixed_normal({3, 2}, 906).to(kF64);
  for (auto sampler : {Sampler::PfOdeEuler, Sampler::PfOdeHeun}) {
    Recorder r;
    const auto x = run_sampler(sampler, r.steps(), test_sde(), r.score(), x1, opt, r.noise());
    const auto want = reference_loop(sampler, test_sde(), x1, opt, r.noise_seed);  // path: the state before every step
    bool from_x1 = r.calls.size() > 1;
    for (std::size_t k = 1; k < r.calls.size(); ++k) from_x1 = from_x1 && same(r.calls[k].x, x1);
    if (from_x1) report("every step starts from x1 instead of the previous step's state");
    ASSERT_EQ(r.calls.size(), want.path.size() - 1) << sampler_name(sampler);
    for (std::size_t k = 0; k < r.calls.size(); ++k)
      EXPECT_TRUE(same(r.calls[k].x, want.path[k]))
          << sampler_name(sampler) << ": step " << k << " starts where the step before it ended (step 0 at x1)";
    EXPECT_TRUE(tensors_close(sampler_name(sampler), x, want.x, 1e-10, 1e-9));
  }
}

TEST(RunSampler, KeepsTheFirstStateEveryKeptStateAndTheLast) {
  struct Case {
    std::int64_t nfe, keep_every;
  };
  const auto x1 = fixed_normal({2, 2}, 907).to(kF64);
  for (const auto& c : std::vector<Case>{{5, 0}, {5, 2}, {6, 3}, {4, 1}}) {
    SamplerOptions opt;
    opt.nfe = c.nfe;
    opt.t_min = 0.02;
    opt.keep_every = c.keep_every;
    Recorder r;
    std::vector<torch::Tensor> path;
    const auto x = run_sampler(Sampler::PfOdeEuler, r.steps(), test_sde(), r.score(), x1, opt, r.noise(), &path);
    const auto want = reference_loop(Sampler::PfOdeEuler, test_sde(), x1, opt, r.noise_seed);
    const auto label = fmt::format("nfe = {}, keep_every = {}", c.nfe, c.keep_every);
    if (path.empty() || !same(path.front(), x1))
      report("the path misses the first state x1");
    else if (!same(path.back(), want.x))
      report("the path misses the last state");
    else if (path.size() == want.path.size() + 1 && same(path[path.size() - 2], path.back()))
      report("the last state is kept twice");
    else if ((c.keep_every > 0 && c.keep_every < c.nfe && path.size() == 2) ||
             (c.keep_every != 1 && path.size() == std::size_t(c.nfe) + 1))
      report("keep_every is ignored");
    ASSERT_EQ(path.size(), want.path.size()) << label << ": x1, the states after every keep_every-th step, the last";
    for (std::size_t i = 0; i < path.size(); ++i)
      EXPECT_TRUE(tensors_close(fmt::format("{}: path[{}]", label, i), path[i], want.path[i], 1e-10, 1e-9));
    EXPECT_TRUE(tensors_close(label, x, want.x, 1e-10, 1e-9));
  }
}

TEST(RunSampler, MatchesThePlainLoopAtTheGradersSeed) {
  auto seeded_int = [](std::uint64_t salt, std::int64_t lo, std::int64_t hi) {
    return dm::testing::seeded_steps(1, lo, hi, salt)[0].item<std::int64_t>();
  };
  const auto sampler = kSamplers[std::size_t(seeded_int(950, 0, 3))];
  SamplerOptions opt;
  opt.nfe = seeded_int(951, 1, 40);
  opt.t_min = dm::testing::seeded_scalar(952, 0.0, 0.1);
  opt.langevin_m = seeded_int(953, 1, 3);
  opt.langevin_snr = dm::testing::seeded_scalar(954, 0.1, 0.5);
  opt.keep_every = seeded_int(955, 0, 4);
  const auto x1 = dm::testing::seeded_normal({seeded_int(956, 1, 5), 2}, 957).to(kF64);
  Recorder r;
  r.noise_seed = 960 + dm::testing::grade_seed() % 1000;
  std::vector<torch::Tensor> path;
  const auto x = run_sampler(sampler, r.steps(), test_sde(), r.score(), x1, opt, r.noise(), &path);
  const auto want = reference_loop(sampler, test_sde(), x1, opt, r.noise_seed);
  const auto label = fmt::format("{} with nfe = {}, t_min = {:.4f}, langevin_m = {}, keep_every = {}",
                                 sampler_name(sampler), opt.nfe, opt.t_min, opt.langevin_m, opt.keep_every);
  EXPECT_TRUE(tensors_close(label, x, want.x, 1e-10, 1e-9)) << seed_note();
  ASSERT_EQ(path.size(), want.path.size()) << label << ": states in the path" << seed_note();
  for (std::size_t i = 0; i < path.size(); ++i)
    EXPECT_TRUE(tensors_close(fmt::format("{}: path[{}]", label, i), path[i], want.path[i], 1e-10, 1e-9))
        << seed_note();
}
