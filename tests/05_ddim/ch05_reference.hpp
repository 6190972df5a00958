// Helpers for the chapter-05 tests, written without the exercises: the linear schedule by a loop,
// a Gaussian data distribution N(m, s^2 I) whose optimal noise prediction is known in closed form,
// the trailing schedule of ddim.hpp's pinned examples, recording fakes of the model and of the parts
// (DdimParts) for the loop tests of 05.3 and 05.4 (made-up maps, not DDIM's), and "which known
// mistake does this look like".
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "05_ddim/ddim.hpp"
#include "testing.hpp"

namespace dm::ch05::test {

inline const char* kGolden = "05_ddim";

// DDPM's linear schedule, beta 1e-4 .. 0.02 over T steps, and alpha_bar = prod (1 - beta), float64.
inline std::vector<double> linear_beta(std::int64_t T = 1000) {
  std::vector<double> b(static_cast<std::size_t>(T));
  for (std::int64_t t = 0; t < T; ++t) b[std::size_t(t)] = 1e-4 + (0.02 - 1e-4) * double(t) / double(T - 1);
  return b;
}
inline std::vector<double> linear_alpha_bar_vec(std::int64_t T = 1000) {
  auto b = linear_beta(T);
  std::vector<double> ab(b.size());
  double p = 1;
  for (std::size_t t = 0; t < b.size(); ++t) ab[t] = p *= 1 - b[t];
  return ab;
}
inline torch::Tensor to_tensor(const std::vector<double>& v) {
  return torch::tensor(v, torch::TensorOptions().dtype(torch::kFloat64));
}
inline torch::Tensor linear_alpha_bar(std::int64_t T = 1000) { return to_tensor(linear_alpha_bar_vec(T)); }

// Data x_0 ~ N(m, s^2 I) with m [D] (one mean per coordinate). Then x_t ~ N(sqrt(ab) m, (ab s^2 + 1 - ab) I)
// and the optimal noise prediction E[eps | x_t] is linear:
//   eps*(x_t, t) = sqrt(1 - ab) (x_t - sqrt(ab) m) / (ab s^2 + 1 - ab).
// With it, the eta = 0 DDIM ODE maps the marginal at t = T-1 onto N(m, s^2 I) as the steps grow.
struct GaussianData {
  torch::Tensor m;  // [D] float32
  double s;
  torch::Tensor alpha_bar;  // [T] float64

  torch::Tensor eps(const torch::Tensor& x, const torch::Tensor& t) const {
    auto ab = alpha_bar.index_select(0, t.to(torch::kCPU)).to(x.scalar_type()).unsqueeze(1);  // [B, 1]
    return (1 - ab).sqrt() * (x - ab.sqrt() * m) / (ab * s * s + 1 - ab);
  }
  // Draws of x_t for every row of the [N, D] standard normal z, at timestep t (t = -1: the data).
  torch::Tensor marginal(const torch::Tensor& z, std::int64_t t) const {
    const double ab = t < 0 ? 1.0 : alpha_bar[t].item<double>();
    return std::sqrt(ab) * m + std::sqrt(ab * s * s + 1 - ab) * z;
  }
};
// m = linspace(-0.5, 0.5, D), s = 0.5, linear schedule with T = 1000.
inline GaussianData gaussian_data(std::int64_t D = 16, double s = 0.5) {
  return {torch::linspace(-0.5, 0.5, D), s, linear_alpha_bar(1000)};
}

// The reference sampler schedules (the pinned formulas of ddim.hpp), trailing only.
inline std::vector<std::int64_t> trailing(std::int64_t T, std::int64_t n) {
  std::vector<std::int64_t> ts;
  for (std::int64_t i = 0; i < n; ++i)
    ts.push_back(std::int64_t(std::nearbyint(double(T) - double(i) * double(T) / double(n))) - 1);
  return ts;
}

// Per-coordinate mean and standard deviation of [N, D] samples.
inline std::pair<torch::Tensor, torch::Tensor> column_moments(const torch::Tensor& x) {
  auto d = x.to(torch::kFloat64);
  return {d.mean(0), d.std(0)};
}

// If `actual` is close to one of the `mistakes` (label, what that mistake would give) and not to
// `expected`, the label of the first such mistake; else "".
inline std::string diagnose(const torch::Tensor& actual, const torch::Tensor& expected,
                            const std::vector<std::pair<std::string, torch::Tensor>>& mistakes, double rtol = 1e-4,
                            double atol = 1e-6) {
  if (!actual.defined() || actual.sizes() != expected.sizes()) return "";
  auto a = actual.to(torch::kFloat64).cpu();
  if (torch::allclose(a, expected.to(torch::kFloat64).cpu(), rtol, atol, /*equal_nan=*/false)) return "";
  for (const auto& [label, wrong] : mistakes) {
    if (wrong.sizes() != a.sizes()) continue;
    auto w = wrong.to(torch::kFloat64).cpu();
    if (torch::allclose(a, w, rtol, atol, /*equal_nan=*/true)) return label;
  }
  return "";
}

inline std::vector<double> as_doubles(const std::vector<std::int64_t>& v) { return {v.begin(), v.end()}; }

inline std::string show(const std::vector<std::int64_t>& v) {
  std::string s = "{";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "}";
}

inline std::string show(const std::vector<double>& v) {
  std::string s = "{";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "}";
}

// The loop tests' made-up schedule: T = 50 levels, alpha_bar_t = exp(-5 (t + 1) / T).
inline constexpr std::int64_t kToyT = 50;
inline std::vector<double> toy_alpha_bar() {
  std::vector<double> ab(kToyT);
  for (std::int64_t t = 0; t < kToyT; ++t) ab[std::size_t(t)] = std::exp(-5.0 * double(t + 1) / double(kToyT));
  return ab;
}

// A failure naming the mistake, when one was recognised.
inline void report(const std::string& mistake) {
  if (!mistake.empty()) ADD_FAILURE() << "likely mistake: " << mistake;
}

// ---- fakes for the loops of 05.3 and 05.4 ------------------------------------------------------------
// Made-up maps with the signatures of EpsFn and DdimParts (not DDIM's formulas), each recording how it
// was called. A loop test passes them in, so it runs none of 05.1's or 05.2's code; its truth is the
// loop written out over the same fakes.

using Steps = std::vector<std::int64_t>;

// The fake model: nonlinear in x and different at every t (t = -1 included), so a step that gets the
// wrong input or the wrong timestep changes the result.
inline torch::Tensor fake_eps(const torch::Tensor& x, std::int64_t t) {
  const double td = double(t);
  return 0.9 * torch::tanh((0.6 + 0.4 * std::cos(0.37 * td)) * x) + 0.1 * std::sin(0.011 * td + 0.3);
}

// The fake parts' maps. sigma: positive for eta > 0, except on landing at alpha_bar_prev = 1 (as DDIM's).
inline double fake_sigma(double ab_t, double ab_prev, double eta) {
  return ab_prev >= 1 ? 0.0 : eta * (ab_prev - ab_t);
}
inline DdimStep fake_step(const torch::Tensor& x, const torch::Tensor& eps, double ab_t, double ab_prev, double eta,
                          const torch::Tensor& z) {
  auto x_prev = (1 - 0.25 * ab_t) * x + 0.5 * ab_prev * eps + 0.1 * eta;
  if (z.defined()) x_prev = x_prev + 0.75 * z;
  return {x_prev, 0.8 * x - 0.3 * ab_t * eps};
}
inline torch::Tensor fake_predict_x0(const torch::Tensor& x, const torch::Tensor& eps, double ab_t) {
  return 0.6 * x - (0.4 + ab_t) * eps;
}

// alpha_bar at t of a plain vector, final_ab at t = -1 (ddim.hpp's alpha_bar_at, for the truths).
inline double level(const std::vector<double>& ab, std::int64_t t, double final_ab = 1.0) {
  return t < 0 ? final_ab : ab.at(std::size_t(t));
}

// One call of each part or of the model, as the fakes saw it.
struct ModelCall {
  std::int64_t t;
  torch::Tensor x, eps;  // the input and what the fake returned
};
struct StepCall {
  torch::Tensor x, eps, z;  // z undefined when none was passed
  double ab_t, ab_prev, eta;
  torch::Tensor x_prev, x0_hat;  // what the fake returned
};
struct PredictCall {
  torch::Tensor x, eps;
  double ab_t;
  torch::Tensor x0_hat;
};
struct ScheduleCall {
  std::int64_t T, steps;
  Spacing spacing;
  std::int64_t offset;
};

// The fake model as an EpsFn: records every call and the first problem with its t argument.
struct FakeModel {
  std::vector<ModelCall> calls;
  std::string problem;
  EpsFn fn() {
    return [this](const torch::Tensor& x, const torch::Tensor& t) {
      if (problem.empty()) {
        if (t.scalar_type() != torch::kLong || t.dim() != 1 || t.size(0) != x.size(0))
          problem = "the model's t is not a [B] int64 tensor with one entry per example (torch::full({B}, t, ...))";
        else if (t.device() != x.device())
          problem = "the model's t is not on x's device";
        else if ((t != t[0]).any().item<bool>())
          problem = "the examples of a batch get different timesteps (they all sit at the step's t)";
        else if (torch::GradMode::is_enabled())
          problem = "the model ran with gradients recorded (the loop runs under torch::NoGradGuard)";
      }
      const auto t0 = t.reshape({-1})[0].item<std::int64_t>();
      auto e = fake_eps(x, t0);
      calls.push_back({t0, x.clone(), e.clone()});
      return e;
    };
  }
  Steps timesteps() const {
    Steps v;
    for (const auto& c : calls) v.push_back(c.t);
    return v;
  }
};

// Fake parts: timesteps and previous_timesteps return the lists given (and record their arguments);
// sigma, step and predict_x0 are the fake maps above (sigma_rule can be replaced) and record their calls.
// With for_inversion, sigma and step are not expected: a call records a problem.
struct FakeParts {
  Steps ts, t_prev;
  std::function<double(double, double, double)> sigma_rule = fake_sigma;
  bool for_inversion = false;
  std::vector<ScheduleCall> schedule_calls;
  std::vector<std::array<double, 3>> sigma_calls;
  std::vector<StepCall> step_calls;
  std::vector<PredictCall> predict_calls;
  std::string problem;

  DdimParts parts() {
    DdimParts p;
    p.timesteps = [this](std::int64_t T, std::int64_t steps, Spacing spacing, std::int64_t offset) {
      schedule_calls.push_back({T, steps, spacing, offset});
      return ts;
    };
    p.previous_timesteps = [this](const Steps&) { return t_prev; };
    p.sigma = [this](double a, double ap, double eta) {
      if (for_inversion && problem.empty())
        problem =
            "ddim_invert called parts.sigma: inversion goes up the levels, where sigma has no real value "
            "(it is always eta = 0); use parts.predict_x0 and move the point to the level it goes to yourself";
      sigma_calls.push_back({a, ap, eta});
      return sigma_rule(a, ap, eta);
    };
    p.step = [this](const torch::Tensor& x, const torch::Tensor& eps, double a, double ap, double eta,
                    const torch::Tensor& z) {
      if (for_inversion && problem.empty())
        problem =
            "ddim_invert called parts.step: ddim_step goes down the levels only; use parts.predict_x0 "
            "and move the point to the level it goes to yourself";
      auto out = fake_step(x, eps, a, ap, eta, z);
      step_calls.push_back({x.clone(), eps.clone(), z.defined() ? z.clone() : torch::Tensor(), a, ap, eta,
                            out.x_prev.clone(), out.x0_hat.clone()});
      return out;
    };
    p.predict_x0 = [this](const torch::Tensor& x, const torch::Tensor& eps, double a) {
      auto out = fake_predict_x0(x, eps, a);
      predict_calls.push_back({x.clone(), eps.clone(), a, out.clone()});
      return out;
    };
    return p;
  }
};

// t_prev as the next entry of a schedule and -1 after the last (for schedules written in the tests).
inline Steps next_entries(const Steps& ts) {
  Steps prev(ts.begin() + 1, ts.end());
  prev.push_back(-1);
  return prev;
}

// ---- the loops written out over the fakes (the truths of the 05.3 and 05.4 tests) --------------------

struct SampleTrace {
  Steps t, noise_at;
  std::vector<double> ab_t, ab_prev;
  std::vector<torch::Tensor> x, x0_hat;  // after each step
};

// 05.3's loop over the fakes: step i from level ts[i] to level t_prev[i] (final_ab at -1), the model at
// ts[i] on the current x, noise(x, i) only where sigma_rule(...) > 0.
inline torch::Tensor fake_sample(const FakeParts& f, const std::vector<double>& ab, torch::Tensor x, double eta,
                                 double final_ab, const NoiseFn& noise, SampleTrace& tr) {
  for (std::size_t i = 0; i < f.ts.size(); ++i) {
    const double a = level(ab, f.ts[i]), ap = level(ab, f.t_prev[i], final_ab);
    const auto e = fake_eps(x, f.ts[i]);
    torch::Tensor z;
    if (f.sigma_rule(a, ap, eta) > 0) {
      z = noise(x, std::int64_t(i));
      tr.noise_at.push_back(std::int64_t(i));
    }
    const auto st = fake_step(x, e, a, ap, eta, z);
    x = st.x_prev;
    tr.t.push_back(f.ts[i]);
    tr.ab_t.push_back(a);
    tr.ab_prev.push_back(ap);
    tr.x.push_back(x);
    tr.x0_hat.push_back(st.x0_hat);
  }
  return x;
}

// The point x0_hat with noise eps at the level alpha_bar: the closed form of q(x_t | x_0) (chapter 02).
inline torch::Tensor at_level(const torch::Tensor& x0_hat, const torch::Tensor& eps, double alpha_bar) {
  return std::sqrt(alpha_bar) * x0_hat + std::sqrt(1 - alpha_bar) * eps;
}

struct InvertTrace {
  Steps t;                             // the model's timesteps, in order
  std::vector<double> ab_from, ab_to;  // the levels of each inversion step
};

// 05.4's loop over the fakes: k from the last sampler step to the first, from level t_prev[k] (final_ab
// at -1) up to level ts[k], the model at ts[k] on the current x, x0_hat by fake_predict_x0 at the level
// the point is at and the point put at the level it goes to. With swapped, the mistaken loop that
// takes the sampler's step instead (x0_hat at the target level, put at the source level).
inline torch::Tensor fake_invert(const FakeParts& f, const std::vector<double>& ab, torch::Tensor x, double final_ab,
                                 InvertTrace& tr, bool swapped = false) {
  for (std::size_t k = f.ts.size(); k-- > 0;) {
    const double from = level(ab, f.t_prev[k], final_ab), to = level(ab, f.ts[k]);
    const auto e = fake_eps(x, f.ts[k]);
    x = swapped ? at_level(fake_predict_x0(x, e, to), e, from) : at_level(fake_predict_x0(x, e, from), e, to);
    tr.t.push_back(f.ts[k]);
    tr.ab_from.push_back(from);
    tr.ab_to.push_back(to);
  }
  return x;
}

// ddim_sample's result against what the fakes saw: the last step's x_prev (whatever the steps were).
inline ::testing::AssertionResult is_last_x_prev(const torch::Tensor& out, const std::vector<StepCall>& calls) {
  if (calls.empty()) return ::testing::AssertionFailure() << "ddim_sample took no step (parts.step never called)";
  return dm::testing::tensors_close("ddim_sample's result: the last step's x_prev", out, calls.back().x_prev, 0, 0);
}

// ddim_invert's result against what the fakes saw: the last x0_hat put at the level of the last
// target ts[0] with the last step's eps (whatever the steps before were).
inline ::testing::AssertionResult is_last_point(const torch::Tensor& out, const std::vector<PredictCall>& calls,
                                                double ab_top) {
  if (calls.empty()) return ::testing::AssertionFailure() << "ddim_invert took no step (parts.predict_x0 never called)";
  return dm::testing::tensors_close("ddim_invert's result: the last x0_hat put at the level of ts[0] with its eps", out,
                                    at_level(calls.back().x0_hat, calls.back().eps, ab_top), 1e-12, 1e-12);
}

// ---- what the fakes saw, against the likeliest slips of the loops ---------------------------------------

// 05.3: the model's timesteps `calls` for the schedule ts, t_prev.
inline std::string sampler_calls_mistake(const Steps& calls, const Steps& ts, const Steps& t_prev) {
  if (calls == ts) return "";
  if (calls == t_prev) return "the model is called at t_prev, the level the step goes to, not at the step's t_i";
  if (calls.size() + 1 == ts.size() && std::equal(calls.begin(), calls.end(), ts.begin()))
    return "the last step (to t = -1, the data) is missing";
  if (Steps(calls.rbegin(), calls.rend()) == ts)
    return "the schedule is walked upwards: step 0 is at ts[0], the largest t";
  return "";
}

// 05.3: the levels (ab_t, ab_prev) of the recorded steps against those of the schedule; ab the [T]
// schedule, steps = opt.steps.
inline std::string sampler_levels_mistake(const std::vector<StepCall>& calls, const Steps& ts, const Steps& t_prev,
                                          const std::vector<double>& ab, double final_ab, std::int64_t steps) {
  const std::size_t n = ts.size();
  if (calls.size() + 1 == n) return "the last step (to t = -1, the data) is missing";
  if (calls.size() != n) return "";
  auto all = [&](auto pred) {
    for (std::size_t i = 0; i < n; ++i)
      if (!pred(i)) return false;
    return true;
  };
  auto same = [](double a, double b) { return std::abs(a - b) <= 1e-12 * std::max(1.0, std::abs(b)); };
  const bool right_t = all([&](std::size_t i) { return same(calls[i].ab_t, level(ab, ts[i])); });
  const bool right_prev = all([&](std::size_t i) { return same(calls[i].ab_prev, level(ab, t_prev[i], final_ab)); });
  if (right_t && right_prev) return "";
  if (all([&](std::size_t i) {
        return same(calls[i].ab_t, level(ab, t_prev[i], final_ab)) && same(calls[i].ab_prev, level(ab, ts[i]));
      }))
    return "the levels are swapped: step i goes from alpha_bar(t_i) down to alpha_bar(t_prev_i)";
  const std::int64_t T = std::int64_t(ab.size());
  if (right_t && !right_prev && all([&](std::size_t i) {
        const std::int64_t tp = ts[i] - T / steps;
        return same(calls[i].ab_prev, level(ab, tp < 0 ? -1 : tp, final_ab));
      }))
    return "t_prev looks like t - T/steps: step i lands on the next entry of the schedule, t_prev[i]";
  if (right_t && final_ab != 1 && same(calls[n - 1].ab_prev, 1.0) &&
      all([&](std::size_t i) { return i + 1 == n || same(calls[i].ab_prev, level(ab, t_prev[i])); }))
    return "the last step lands on opt.final_alpha_bar (pass it to alpha_bar_at), not on alpha_bar = 1";
  return "";
}

// 05.3: the steps that drew noise (noise_at) and the steps whose z was defined, against `want`
// (the steps with sigma > 0 of n steps); with_noise_fn: a noise_fn was given.
inline std::string sampler_noise_mistake(const Steps& noise_at, const std::vector<StepCall>& calls, const Steps& want,
                                         std::size_t n, bool with_noise_fn) {
  if (calls.size() != n) return "";  // steps missing: the other diagnoses say which
  Steps z_at;
  for (std::size_t i = 0; i < calls.size(); ++i)
    if (calls[i].z.defined()) z_at.push_back(std::int64_t(i));
  Steps every;
  for (std::size_t i = 0; i < n; ++i) every.push_back(std::int64_t(i));
  if (with_noise_fn && noise_at.empty() && !want.empty() && !z_at.empty())
    return "draw z with noise_fn when it is given (torch::randn_like only without one)";
  const Steps& drawn = with_noise_fn ? noise_at : z_at;
  if (drawn == want) return "";
  if (drawn == every)
    return "noise is drawn at every step, also where sigma = 0 (eta = 0 adds no noise): draw z only when "
           "parts.sigma(...) > 0";
  if (!want.empty() || !drawn.empty())
    return "the steps that draw noise are those whose parts.sigma(alpha_bar_t, alpha_bar_prev, eta) is > 0, "
           "not those picked by eta or by the step's index";
  return "";
}

// 05.4: the model's timesteps `calls` for the schedule ts, t_prev (inversion calls it at ts reversed).
inline std::string inversion_calls_mistake(const Steps& calls, const Steps& ts, const Steps& t_prev) {
  const Steps up(ts.rbegin(), ts.rend());
  if (calls == up) return "";
  Steps source;
  for (auto k = t_prev.size(); k-- > 0;) source.push_back(std::max<std::int64_t>(t_prev[k], 0));
  if (calls == source)
    return "the model is called at the source level t_prev (where the point is), not at the target level t_i";
  if (calls == ts && ts.size() > 1)
    return "inversion runs the sampler's steps backwards: the sampler's last step (from the data) comes first";
  if (calls.size() + 1 == up.size() && std::equal(calls.begin(), calls.end(), up.begin()))
    return "the last inversion step, to t = T - 1 (ts[0], the sampler's first level), is missing";
  return "";
}

// 05.4: the alpha_bar that predict_x0 got at each step, against the levels of the inversion `tr`
// (final_ab the data's); got the latent, swapped what the sampler's step run upwards would give.
inline std::string inversion_levels_mistake(const std::vector<PredictCall>& calls, const InvertTrace& tr,
                                            double final_ab, const torch::Tensor& got, const torch::Tensor& swapped) {
  const std::size_t n = tr.ab_from.size();
  if (calls.size() != n || n == 0) return "";
  auto same = [](double a, double b) { return std::abs(a - b) <= 1e-12 * std::max(1.0, std::abs(b)); };
  auto all = [&](auto pred) {
    for (std::size_t i = 0; i < n; ++i)
      if (!pred(i)) return false;
    return true;
  };
  if (all([&](std::size_t i) { return same(calls[i].ab_t, tr.ab_from[i]); })) return "";
  if (all([&](std::size_t i) { return same(calls[i].ab_t, tr.ab_to[i]); })) {
    if (got.defined() && got.sizes() == swapped.sizes() && torch::allclose(got, swapped, 1e-9, 1e-9))
      return "inversion goes from t_prev up to t_i: this is the sampler's step (x0_hat at alpha_bar(t_i), the "
             "point put at alpha_bar(t_prev)), not its inverse";
    return "x0_hat uses the alpha_bar of the level the point is at (t_prev_i), not of the level it goes to";
  }
  if (final_ab != 1 && same(calls[0].ab_t, 1.0) &&
      all([&](std::size_t i) { return i == 0 || same(calls[i].ab_t, tr.ab_from[i]); }))
    return "the data sit at opt.final_alpha_bar: the first inversion step starts from it, not from alpha_bar = 1";
  return "";
}

// ---- the truth of 05.2's sigma, by simulation ---------------------------------------------------------
// No formula for sigma here (deriving it is the exercise): sigma(eta = 1) is the standard deviation of
// DDPM's posterior across the jump, estimated by Monte Carlo.

// An estimate and its standard error.
struct Estimate {
  double value = 0, se = 0;
};

// DDPM's forward process across a jump from the level alpha_bar_prev (ap) down to alpha_bar_t (a):
// x_prev | x_0 ~ N(sqrt(ap) x_0, 1 - ap), then x_t = sqrt(a / ap) x_prev + sqrt(1 - a / ap) w. The
// variance of x_prev given x_t and x_0, estimated as the residual variance of the least-squares
// regression of x_prev on x_t over n draws (x_0 = 0; u, w standard normal [n]). Standard error
// v sqrt(2 / n).
inline Estimate jump_posterior_variance(double a, double ap, const torch::Tensor& u, const torch::Tensor& w) {
  const auto uu = u.to(torch::kFloat64).flatten(), ww = w.to(torch::kFloat64).flatten();
  const auto xp = std::sqrt(1 - ap) * uu;
  const auto xt = std::sqrt(a / ap) * xp + std::sqrt(std::max(0.0, 1 - a / ap)) * ww;
  const auto xpc = xp - xp.mean(), xtc = xt - xt.mean();
  const double sxx = (xtc * xtc).sum().item<double>();
  const double slope = sxx > 0 ? (xpc * xtc).sum().item<double>() / sxx : 0.0;
  const auto res = xpc - slope * xtc;
  const double n = double(uu.numel());
  const double v = (res * res).sum().item<double>() / (n - 2);
  return {v, v * std::sqrt(2.0 / n)};
}

// Whether ddim_sigma's `got` is eta sqrt(v) within k standard errors (v: the posterior variance at
// eta = 1), and if not, the known mistake it looks like ("" when it looks like none).
struct Verdict {
  bool ok = true;
  std::string mistake;
  // "\nlikely mistake: ..." when a known mistake matched, else "".
  std::string note() const { return mistake.empty() ? "" : "\nlikely mistake: " + mistake; }
};
inline Verdict sigma_verdict(double a, double ap, double eta, double got, const Estimate& v, double k = 5) {
  const double s = std::sqrt(std::max(v.value, 0.0));
  const double rel = v.value > 0 ? k * v.se / (2 * v.value) : 0.0;  // relative tolerance of sqrt(v)
  auto near = [&](double want) {
    return std::isfinite(got) && std::abs(got - want) <= 1e-12 + rel * std::abs(want) + 1e-9 * std::abs(want);
  };
  if (near(eta * s)) return {};
  Verdict bad{false, ""};
  auto named = [&](const char* m) { return Verdict{false, m}; };
  if (std::isnan(got))
    return named(
        "sigma is NaN: something under a square root is negative. A ratio of the two levels is inverted "
        "(alpha_bar_prev > alpha_bar_t, so which way up keeps 1 - ratio positive?), or the final step "
        "divides by 1 - alpha_bar_prev = 0");
  if (v.value > 0 && near(eta * s * (1 - a) / (1 - ap)))
    return named(
        "a ratio of the noise variances 1 - alpha_bar is upside down: sigma comes out larger than the "
        "noise x_prev has room for");
  if (v.value > 0 && near(eta * eta * v.value))
    return named("ddim_sigma returns the variance sigma^2: return the standard deviation");
  if (v.value > 0 && eta < 0.999 && near(s)) return named("eta is missing: sigma(eta) scales linearly with eta");
  if (v.value > 0 && near(eta * s * std::sqrt(1 - a / ap)))
    return named("a factor of sigma^2 went into sigma without its square root (1 - alpha_bar_t / alpha_bar_prev)");
  if (v.value > 0 && near(eta * std::sqrt(1 - a / ap)))
    return named(
        "sigma^2 is the jump's own beta, 1 - alpha_bar_t / alpha_bar_prev (DDPM's larger variance): the "
        "posterior's is smaller, the noise that x_0 and x_t together still leave open");
  return bad;
}

}  // namespace dm::ch05::test
