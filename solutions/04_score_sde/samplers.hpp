// Whole samplers, from x_1 ~ N(0, I) at t = 1 down to t_min, built from the steps of 04.3-04.5.
// The time grid is uniform: t_k = 1 - k (1 - t_min) / N, k = 0..N.
#pragma once

#include <cstdint>
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

// Runs `sampler` from x1 ([n, 2], usually N(0, I)); the noise comes from `gen` (torch's default
// generator when undefined). Appends the kept states to *path when path is not null.
torch::Tensor run_sampler(Sampler sampler, const VpSde& sde, const ScoreFn& score, const torch::Tensor& x1,
                          const SamplerOptions& opt, torch::Generator gen = {},
                          std::vector<torch::Tensor>* path = nullptr);

}  // namespace dm::ch04
