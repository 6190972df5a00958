// Reference helpers of chapter 06's inpainting tests (06.8-06.11), written independently of the exercises:
//   - a small schedule built here from its betas (chapter 02's make_schedule does not run);
//   - 06.8: recording fakes of parts.reverse and parts.q_sample, the replacement step written out over
//     them, and what the likeliest slips give;
//   - 06.9: the chain of single forward steps x <- sqrt(alpha_k) x + sqrt(beta_k) z_k, run step by step,
//     and the coefficients of x_t and of the noise it gives, by a loop over the schedule's alpha and beta;
//   - 06.10: RePaint's order as a walk that counts its arrivals at each jump point (not the solution's
//     nested loops), with switches for the likeliest slips;
//   - 06.11: recording fakes of the network, the step and the jump, and the walk written out over them.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "06_guidance/inpainting.hpp"
#include "testing.hpp"

namespace dm::ch06::test {

inline bool same(const torch::Tensor& a, const torch::Tensor& b) {
  return a.defined() && b.defined() && a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() &&
         torch::equal(a, b);
}

// The schedule of the betas given, alpha = 1 - beta and alpha_bar their running product, all float64.
inline Schedule schedule_of(const torch::Tensor& beta) {
  Schedule s;
  s.beta = beta.to(torch::kFloat64);
  s.alpha = 1 - s.beta;
  s.alpha_bar = torch::cumprod(s.alpha, 0);
  return s;
}
inline Schedule schedule_of(const std::vector<double>& betas) {
  return schedule_of(torch::tensor(betas, torch::kFloat64));
}

// T = 10 levels whose betas are large, so that one level's noise differs visibly from the next one's.
inline Schedule small_schedule() { return schedule_of({0.02, 0.05, 0.08, 0.12, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4}); }

// The first `limit` entries, space-separated (and how many there are in all, when that is more).
template <typename V>
std::string join(const std::vector<V>& v, std::size_t limit = 60) {
  std::ostringstream o;
  for (std::size_t i = 0; i < v.size() && i < limit; ++i) o << (i ? " " : "") << v[i];
  if (v.size() > limit) o << " ... (" << v.size() << " in all)";
  return o.str();
}

// Where two sequences first differ, in words ("" when they are equal).
template <typename V>
std::string first_difference(const std::vector<V>& got, const std::vector<V>& want) {
  std::ostringstream o;
  for (std::size_t i = 0; i < got.size() || i < want.size(); ++i) {
    if (i < got.size() && i < want.size() && got[i] == want[i]) continue;
    o << "they first differ at entry " << i << ": expected ";
    if (i < want.size())
      o << want[i];
    else
      o << "nothing more";
    o << ", got ";
    if (i < got.size())
      o << got[i];
    else
      o << "nothing more";
    return o.str();
  }
  return "";
}

// ---- 06.8: the parts of one replacement step --------------------------------------------------------------

// Records every call of parts.reverse and parts.q_sample. The fakes only have to tell their inputs apart:
//   reverse:   x_prev = 0.9 x_t - 0.2 eps + 0.1 z + 0.01 t   (x0_hat = x_t - eps)
//   q_sample:  sqrt(ab) x0 + sqrt(1 - ab) eps with ab = s.alpha_bar[t_b] for each image b; a level below 0
//              (outside the contract) reads alpha_bar from the end, as a negative index would.
struct StepRecorder {
  int reverse_calls = 0, q_calls = 0;
  std::int64_t reverse_t = -99;
  torch::Tensor rx, reps, rz;            // what reverse saw
  torch::Tensor q_ab, q_x0, q_t, q_eps;  // what q_sample saw

  static torch::Tensor reversed(const torch::Tensor& x, std::int64_t t, const torch::Tensor& eps,
                                const torch::Tensor& z) {
    return 0.9 * x - 0.2 * eps + 0.1 * z + 0.01 * static_cast<double>(t);
  }
  // x0 noised to `level` (the same for every image) by eps, as the fake q_sample gives it.
  static torch::Tensor noised(const Schedule& s, const torch::Tensor& x0, std::int64_t level,
                              const torch::Tensor& eps) {
    const auto l = level < 0 ? s.T() + level : level;
    const double ab = s.alpha_bar[l].item<double>();
    return std::sqrt(ab) * x0 + std::sqrt(1 - ab) * eps;
  }
  InpaintStepParts parts() {
    InpaintStepParts p;
    p.reverse = [this](const torch::Tensor& x, std::int64_t t, const torch::Tensor& eps, const torch::Tensor& z) {
      ++reverse_calls;
      reverse_t = t, rx = x.clone(), reps = eps.clone(), rz = z.clone();
      return dm::ch03::ReverseStep{reversed(x, t, eps, z), x - eps};
    };
    p.q_sample = [this](const Schedule& s, const torch::Tensor& x0, const torch::Tensor& t, const torch::Tensor& eps) {
      ++q_calls;
      q_ab = s.alpha_bar.clone(), q_x0 = x0.clone(), q_t = t.clone(), q_eps = eps.clone();
      auto tt = t.to(torch::kLong).cpu().flatten().contiguous();
      auto ab = torch::empty({tt.numel()}, torch::kFloat64);
      for (std::int64_t b = 0; b < tt.numel(); ++b) {
        auto l = tt[b].item<std::int64_t>();
        if (l < 0) l += s.T();
        ab[b] = s.alpha_bar[std::min<std::int64_t>(std::max<std::int64_t>(l, 0), s.T() - 1)].item<double>();
      }
      std::vector<std::int64_t> shape(static_cast<std::size_t>(x0.dim()), 1);
      shape[0] = tt.numel();
      ab = ab.view(shape).to(x0.scalar_type());
      return ab.sqrt() * x0 + (1 - ab).sqrt() * eps;
    };
    return p;
  }
};

// One step's inputs: [B, C, H, W] images, and a mask that alternates known and generated pixels.
struct StepCase {
  Schedule s = small_schedule();
  torch::Tensor x, eps, z, known, ek, mask;
  StepCase(std::int64_t B, std::int64_t C, std::int64_t H, std::int64_t W, std::uint64_t seed, bool one_mask = false) {
    using dm::testing::fixed_normal;
    x = fixed_normal({B, C, H, W}, seed);
    eps = fixed_normal({B, C, H, W}, seed + 1);
    z = fixed_normal({B, C, H, W}, seed + 2);
    known = fixed_normal({B, C, H, W}, seed + 3).clamp(-1, 1);
    ek = fixed_normal({B, C, H, W}, seed + 4);
    const auto MB = one_mask ? 1 : B;
    mask = torch::zeros({MB, 1, H, W});
    for (std::int64_t b = 0; b < MB; ++b)
      for (std::int64_t i = 0; i < H; ++i)
        for (std::int64_t j = 0; j < W; ++j) mask[b][0][i][j] = ((i + 2 * j + b) % 3 == 0) ? 0.0 : 1.0;
  }
};

// The replacement step over the fakes, written out: the known image at level t - 1 (itself at t = 0) where
// mask = 1, the reverse step's x_{t-1} where mask = 0.
inline torch::Tensor expected_step(const Schedule& s, const torch::Tensor& x, std::int64_t t, const torch::Tensor& eps,
                                   const torch::Tensor& z, const torch::Tensor& known, const torch::Tensor& mask,
                                   const torch::Tensor& ek) {
  auto gen = StepRecorder::reversed(x, t, eps, z);
  auto kept = t == 0 ? known : StepRecorder::noised(s, known, t - 1, ek);
  return mask * kept + (1 - mask) * gen;
}

inline const char* kLevelT =
    "the known image was noised to level t, the level the step starts from: the step's result is at level "
    "t - 1, and the known pixels put into it must be too";
inline const char* kMaskFlipped =
    "the mask was read the wrong way round: 1 marks a known pixel (taken from the known image), 0 a pixel "
    "to generate";
inline const char* kClean =
    "the clean known pixels were pasted in: before the last step they must carry the noise of level t - 1 "
    "(the known image through parts.q_sample), like the rest of the sample";
inline const char* kLastNoised =
    "the last step (t = 0) noised the known pixels: its result is the image itself, so the known pixels are "
    "kept exactly as they are";
inline const char* kNetEps =
    "the known pixels were noised with the network's eps: they take their own fresh noise, eps_known (a "
    "prediction is not a draw)";
inline const char* kZ =
    "the known pixels were noised with the reverse step's noise z, not with eps_known: the law is the same "
    "(the step's z at known pixels is thrown away), but the contract names eps_known, the draw the program "
    "makes for them, and the grader checks against it";
inline const char* kUnmaskedKept =
    "the known part was not multiplied by the mask: where a pixel is generated, the known image's value was "
    "added to the reverse step's";
inline const char* kNoReplacement =
    "the known pixels were not put back: the result is the reverse step's x_{t-1} everywhere";
inline const char* kNoStep =
    "the generated pixels were not stepped: they are still x_t, not the reverse step's x_{t-1}";

inline std::vector<std::pair<std::string, torch::Tensor>> step_slips(const StepCase& c, std::int64_t t) {
  const auto& s = c.s;
  auto gen = StepRecorder::reversed(c.x, t, c.eps, c.z);
  auto kept = t == 0 ? c.known : StepRecorder::noised(s, c.known, t - 1, c.ek);
  const auto& m = c.mask;
  std::vector<std::pair<std::string, torch::Tensor>> out = {
      {kMaskFlipped, (1 - m) * kept + m * gen}, {kClean, m * c.known + (1 - m) * gen},
      {kUnmaskedKept, kept + (1 - m) * gen},    {kNoReplacement, gen + 0 * m},
      {kNoStep, m * kept + (1 - m) * c.x},
  };
  if (t > 0) {
    out.push_back({kLevelT, m * StepRecorder::noised(s, c.known, t, c.ek) + (1 - m) * gen});
    out.push_back({kNetEps, m * StepRecorder::noised(s, c.known, t - 1, c.eps) + (1 - m) * gen});
    out.push_back({kZ, m * StepRecorder::noised(s, c.known, t - 1, c.z) + (1 - m) * gen});
  } else {
    out.push_back({kLastNoised, m * StepRecorder::noised(s, c.known, -1, c.ek) + (1 - m) * gen});
  }
  return out;
}

// ---- 06.9: the chain of single steps ----------------------------------------------------------------------

// x_{t_to} = a x_t + (noise of standard deviation b) after the single steps k = t + 1 .. t_to, each
// x <- sqrt(alpha_k) x + sqrt(beta_k) z_k: a is the product of the sqrt(alpha_k), b^2 the variance the
// steps add, each step's added variance then scaled by the steps after it.
struct Coefficients {
  double a = 1, b = 0;
};
inline Coefficients chain_coefficients(const Schedule& s, std::int64_t t, std::int64_t t_to) {
  double a = 1, var = 0;
  for (std::int64_t k = t + 1; k <= t_to; ++k) {
    const double al = s.alpha[k].item<double>(), be = s.beta[k].item<double>();
    a *= std::sqrt(al);
    var = al * var + be;
  }
  return {a, std::sqrt(var)};
}

// ---- 06.10: RePaint's order -------------------------------------------------------------------------------

// Switches for the likeliest slips of 06.10 (all off: the order itself).
struct OrderSlip {
  bool top_down = false;    // jump points counted down from T - 1
  bool extra_walk = false;  // resamplings + 1 walks of each stretch
  bool keep_above = false;  // points whose jump leaves the schedule kept
  bool strict = false;      // points whose jump lands on T - 1 dropped
};

// The order as a walk: from T - 1, down one level at a time; on arriving at a jump point l by a move down,
// count the arrival, and while fewer than `resamplings` walks of the stretch l + jump .. l have arrived,
// jump back up to l + jump.
inline std::vector<std::int64_t> walk_order(std::int64_t T, std::int64_t jump, std::int64_t resamplings,
                                            OrderSlip slip = {}) {
  auto is_point = [&](std::int64_t l) {
    if (l < 0) return false;
    if ((slip.top_down ? T - 1 - l : l) % jump != 0) return false;
    if (slip.keep_above) return true;
    return slip.strict ? l + jump < T - 1 : l + jump <= T - 1;
  };
  const auto walks = slip.extra_walk ? resamplings + 1 : resamplings;
  std::map<std::int64_t, std::int64_t> arrivals;
  std::vector<std::int64_t> out = {T - 1};
  std::int64_t x = T - 1;
  bool down = false;  // the top level is not arrived at by a move down
  while (x != -1) {
    if (down && is_point(x) && ++arrivals[x] < walks) {
      x += jump, down = false;
    } else {
      x -= 1, down = true;
    }
    out.push_back(x);
  }
  return out;
}

inline std::vector<std::int64_t> straight_order(std::int64_t T) {
  std::vector<std::int64_t> v;
  for (std::int64_t l = T - 1; l >= -1; --l) v.push_back(l);
  return v;
}

inline const char* kTopDown =
    "the jump points were counted down from the top level T - 1: they count up from level 0 (0, jump, "
    "2 jump, ...)";
inline const char* kExtraWalk =
    "each stretch was walked resamplings + 1 times: resamplings counts the walks in all, the first walk "
    "down included (resamplings = 1: no jump)";
inline const char* kAbove =
    "a jump point whose jump goes above the top level T - 1 was kept: the order never leaves the schedule's "
    "levels";
inline const char* kStrict = "a jump point whose jump lands exactly on the top level T - 1 was dropped";
inline const char* kShort =
    "the walk back down after a jump stopped one level short of the jump point: a move of two levels down "
    "follows";
inline const char* kNoJump = "no jump at all: the order is the plain walk from T - 1 down to -1";

// Which slip `got` looks like, if any ("" when none or when it is right).
inline std::string order_mistake(const std::vector<std::int64_t>& got, std::int64_t T, std::int64_t jump,
                                 std::int64_t r) {
  const auto want = walk_order(T, jump, r);
  if (got == want) return "";
  for (std::size_t i = 1; i < got.size(); ++i)
    if (got[i] == got[i - 1] - 2) return kShort;
  const std::vector<std::pair<const char*, OrderSlip>> slips = {
      {kTopDown, {true, false, false, false}},
      {kExtraWalk, {false, true, false, false}},
      {kAbove, {false, false, true, false}},
      {kStrict, {false, false, false, true}},
  };
  for (const auto& [label, slip] : slips) {
    const auto wrong = walk_order(T, jump, r, slip);
    if (wrong != want && got == wrong) return label;
  }
  if (got == straight_order(T) && want != got) return kNoJump;
  return "";
}

// ---- 06.11: the parts of the RePaint walk -----------------------------------------------------------------

// Records every call, in order, as "eps(l)", "step(l)", "jump(a->b)" and "move(l)"; the fakes:
//   eps_theta(x, t) = 0.3 x + 0.01 t
//   step(x, t, eps, known, mask) = mask (0.5 known + 0.02 t) + (1 - mask) (0.9 x - 0.2 eps)
//   jump(x, t, t_to) = 1.05 x + 0.03 t_to - 0.01 t
struct WalkRecorder {
  std::vector<std::string> events;
  std::vector<std::string> bad_t;  // malformed timestep tensors given to the network
  std::vector<bool> grad_on;       // torch::GradMode::is_enabled() inside every call
  std::vector<torch::Tensor> eps_x, eps_out, step_x, step_eps, step_known, step_mask, jump_x, move_x;
  std::vector<std::int64_t> eps_t, step_t, move_level;
  std::vector<std::pair<std::int64_t, std::int64_t>> jumps;

  static torch::Tensor net(const torch::Tensor& x, std::int64_t t) { return 0.3 * x + 0.01 * static_cast<double>(t); }
  static torch::Tensor stepped(const torch::Tensor& x, std::int64_t t, const torch::Tensor& eps,
                               const torch::Tensor& known, const torch::Tensor& mask) {
    return mask * (0.5 * known + 0.02 * static_cast<double>(t)) + (1 - mask) * (0.9 * x - 0.2 * eps);
  }
  static torch::Tensor jumped(const torch::Tensor& x, std::int64_t t, std::int64_t t_to) {
    return 1.05 * x + 0.03 * static_cast<double>(t_to) - 0.01 * static_cast<double>(t);
  }

  RepaintParts parts() {
    RepaintParts p;
    p.eps_theta = [this](const torch::Tensor& x, const torch::Tensor& t) {
      grad_on.push_back(torch::GradMode::is_enabled());
      std::int64_t tv = -99;
      if (t.scalar_type() != torch::kLong || t.dim() != 1 || t.size(0) != x.size(0) || t.device() != x.device())
        bad_t.push_back("a [B] int64 tensor on x_t's device");
      else if (t.min().item<std::int64_t>() != t.max().item<std::int64_t>())
        bad_t.push_back("one level for the whole batch");
      if (t.numel() > 0) tv = t.flatten()[0].item<std::int64_t>();
      events.push_back("eps(" + std::to_string(tv) + ")");
      eps_t.push_back(tv);
      eps_x.push_back(x.detach().clone());
      auto out = net(x, tv);
      eps_out.push_back(out.detach().clone());
      return out;
    };
    p.step = [this](const torch::Tensor& x, std::int64_t t, const torch::Tensor& eps, const torch::Tensor& known,
                    const torch::Tensor& mask) {
      grad_on.push_back(torch::GradMode::is_enabled());
      events.push_back("step(" + std::to_string(t) + ")");
      step_t.push_back(t);
      step_x.push_back(x.detach().clone());
      step_eps.push_back(eps.detach().clone());
      step_known.push_back(known.detach().clone());
      step_mask.push_back(mask.detach().clone());
      return stepped(x, t, eps, known, mask);
    };
    p.jump = [this](const torch::Tensor& x, std::int64_t t, std::int64_t t_to) {
      grad_on.push_back(torch::GradMode::is_enabled());
      events.push_back("jump(" + std::to_string(t) + "->" + std::to_string(t_to) + ")");
      jumps.emplace_back(t, t_to);
      jump_x.push_back(x.detach().clone());
      return jumped(x, t, t_to);
    };
    return p;
  }
  RepaintCallback on_move() {
    return [this](std::int64_t level, const torch::Tensor& x) {
      events.push_back("move(" + std::to_string(level) + ")");
      move_level.push_back(level);
      move_x.push_back(x.detach().clone());
    };
  }
};

// The samples the walk reaches over the fakes, written out: samples[0] = x_T, samples[i] after move i.
inline std::vector<torch::Tensor> expected_walk(const std::vector<std::int64_t>& levels, const torch::Tensor& x_T,
                                                const torch::Tensor& known, const torch::Tensor& mask) {
  std::vector<torch::Tensor> out = {x_T};
  auto x = x_T;
  for (std::size_t i = 1; i < levels.size(); ++i) {
    const auto from = levels[i - 1], to = levels[i];
    if (to == from - 1)
      x = WalkRecorder::stepped(x, from, WalkRecorder::net(x, from), known, mask);
    else
      x = WalkRecorder::jumped(x, from, to);
    out.push_back(x);
  }
  return out;
}

// Switches for the likeliest slips of 06.11's order of calls (all off: the walk itself).
struct WalkSlip {
  bool net_at_end = false;     // the network asked at the level the move ends at
  bool step_at_end = false;    // the step told the level it ends at
  bool jump_as_step = false;   // every move taken as a reverse step
  bool jump_swapped = false;   // parts.jump(x, to, from)
  bool move_at_start = false;  // on_move told the level the move started from
};

// The calls the walk makes, in order, as WalkRecorder writes them.
inline std::vector<std::string> expected_events(const std::vector<std::int64_t>& levels, bool with_moves,
                                                WalkSlip slip = {}) {
  std::vector<std::string> out;
  auto s = [](std::int64_t v) { return std::to_string(v); };
  for (std::size_t i = 1; i < levels.size(); ++i) {
    const auto from = levels[i - 1], to = levels[i];
    if (to < from || slip.jump_as_step) {
      out.push_back("eps(" + s(slip.net_at_end ? to : from) + ")");
      out.push_back("step(" + s(slip.step_at_end ? to : from) + ")");
    } else {
      out.push_back(slip.jump_swapped ? "jump(" + s(to) + "->" + s(from) + ")"
                                      : "jump(" + s(from) + "->" + s(to) + ")");
    }
    if (with_moves) out.push_back("move(" + s(slip.move_at_start ? from : to) + ")");
  }
  return out;
}

inline const char* kNetAtEnd =
    "the network was asked at the level the move ends at: it is asked about the sample it denoises, at the "
    "level the move starts from";
inline const char* kStepAtEnd =
    "the step was told the level the move ends at: a reverse step at timestep t takes the sample from level "
    "t to t - 1, so it is told the level it starts from";
inline const char* kJumpAsStep =
    "a jump was taken as a reverse step: a move up re-noises the sample with parts.jump and asks no network";
inline const char* kJumpSwapped =
    "the jump's levels are swapped: parts.jump goes from the level reached to the level above it";
inline const char* kMoveAtStart = "on_move was told the level the move started from, not the level it reached";
inline const char* kFromKnown = "the walk started from the known image: it starts from the noise x_T";
inline const char* kGradOn =
    "autograd was left on: the walk calls the network at every move, and each call would record a graph "
    "(run it without autograd)";

inline std::string events_mistake(const std::vector<std::string>& got, const std::vector<std::int64_t>& levels,
                                  bool with_moves) {
  if (got == expected_events(levels, with_moves)) return "";
  const std::vector<std::pair<const char*, WalkSlip>> slips = {
      {kNetAtEnd, {true, false, false, false, false}},    {kStepAtEnd, {false, true, false, false, false}},
      {kJumpAsStep, {false, false, true, false, false}},  {kJumpSwapped, {false, false, false, true, false}},
      {kMoveAtStart, {false, false, false, false, true}},
  };
  for (const auto& [label, slip] : slips)
    if (got == expected_events(levels, with_moves, slip)) return label;
  return "";
}

}  // namespace dm::ch06::test
