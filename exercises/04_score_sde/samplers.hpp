// Whole samplers, from x_1 ~ N(0, I) at t = 1 down to t_min, built from the steps of 04.3-04.5.
// The sampler loop (04.7) takes its steps and its noise as arguments, so the chapter program passes
// the steps you wrote in 04.3-04.5 (exercise_steps()) and torch's generator, and a test passes small
// recording fakes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "04_score_sde/sde.hpp"

namespace dm::ch04 {

enum class Sampler { Langevin, ReverseSde, PfOdeEuler, PfOdeHeun };
inline const std::vector<Sampler> kSamplers = {Sampler::Langevin, Sampler::ReverseSde, Sampler::PfOdeEuler,
                                               Sampler::PfOdeHeun};
const char* sampler_name(Sampler s);  // "langevin", "reverse_sde", "pf_ode_euler", "pf_ode_heun"

struct SamplerOptions {
  std::int64_t nfe = 100;       // score evaluations; Heun takes nfe / 2 steps, Langevin nfe / langevin_m levels
  double t_min = 1e-3;          // where the samplers stop (the score of p_0 itself can be very sharp)
  double langevin_snr = 0.4;    // Langevin step size from this signal-to-noise ratio (04.3)
  std::int64_t langevin_m = 2;  // Langevin steps per noise level
  std::int64_t keep_every = 0;  // > 0: keep x every this many steps in the path (and the first and last)
};

// The one-step functions a sampler is made of, with the signatures of steps.hpp (04.3-04.5).
struct SamplerSteps {
  // x, score_x, delta, z -> x after one Langevin step (04.3's langevin_step)
  std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& score_x, double delta,
                              const torch::Tensor& z)>
      langevin_step;
  // score_x, z, r -> the Langevin step size delta (04.3's langevin_step_size)
  std::function<double(const torch::Tensor& score_x, const torch::Tensor& z, double r)> langevin_step_size;
  // one Euler-Maruyama step of the reverse-time SDE from t to t - h, z its Brownian draw (04.4)
  std::function<torch::Tensor(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t, double h,
                              const torch::Tensor& z)>
      reverse_sde_step;
  // one Euler step of the probability-flow ODE from t to t - h (04.5)
  std::function<torch::Tensor(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t, double h)>
      pf_ode_euler_step;
  // one Heun step of the probability-flow ODE from t to t - h (04.5)
  std::function<torch::Tensor(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t, double h)>
      pf_ode_heun_step;
};

// The chapter's own steps: langevin_step, langevin_step_size, reverse_sde_step, pf_ode_euler_step and
// pf_ode_heun_step of steps.hpp (yours, on the exercises track).
SamplerSteps exercise_steps();

// The samplers' noise, called as noise(x): a fresh N(0, I) draw of x's shape, dtype and device at every call.
using NoiseFn = std::function<torch::Tensor(const torch::Tensor& x)>;
// Noise from torch::randn with the generator gen (torch's default generator when gen is undefined).
NoiseFn torch_noise(torch::Generator gen = {});

// ---- 04.7 the sampler loop --------------------------------------------------------------------------
// Runs `sampler` from x1 at t = 1 down to opt.t_min (lesson 04, "5. From a score to samples"), with the
// one-step functions of `steps` and the score `score`.
//
// The time grid is uniform with N steps: t_k = 1 - k (1 - opt.t_min) / N, k = 0..N, so t_0 = 1 and
// t_N = opt.t_min; step k goes from t_k to t_{k+1} = t_k - h. N is as many steps as opt.nfe score
// evaluations buy (at least 1), the budget being counted as in SamplerOptions: one evaluation per step
// for the reverse SDE and for Euler, two for Heun, opt.langevin_m for Langevin.
//   ReverseSde   one reverse_sde_step per step, each with its own fresh noise draw
//   PfOdeEuler   one pf_ode_euler_step per step (no noise)
//   PfOdeHeun    one pf_ode_heun_step per step (no noise)
//   Langevin     annealed: at step k, opt.langevin_m Langevin steps at the level it moves to,
//                t_{k+1} (not t_k), each with the score there, its own fresh noise z and the step size
//                langevin_step_size(score, z, opt.langevin_snr)
//
//   steps    the one-step functions; only those of `sampler` are called
//   sde      the VP-SDE, passed on to the steps
//   score    the score model s(x, t), passed on (Langevin calls it itself)
//   x1       [n, 2] the starting state at t = 1, usually N(0, I)
//   opt      the budget, t_min and Langevin's settings (nfe >= 1, 0 <= t_min < 1, langevin_m >= 1)
//   noise    where the noise comes from (torch_noise() when empty)
//   path     when not null, receives the kept states in order: x1 first, then the state after every
//            opt.keep_every-th step (steps 1, 2, ... counted from 1; none when keep_every is 0), and
//            the final state (once, also when N is a multiple of keep_every)
//   returns  [n, 2] the state at t = opt.t_min
// Runs without autograd.
torch::Tensor run_sampler(Sampler sampler, const SamplerSteps& steps, const VpSde& sde, const ScoreFn& score,
                          const torch::Tensor& x1, const SamplerOptions& opt, const NoiseFn& noise = nullptr,
                          std::vector<torch::Tensor>* path = nullptr);

}  // namespace dm::ch04
