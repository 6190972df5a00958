// Sampling a model with fewer steps than it was trained with: respacing (Nichol & Dhariwal 2021,
// "Improved Denoising Diffusion Probabilistic Models", section 4). Course library code, not an
// exercise: lesson 03, "3. Sampling: Algorithm 2 and the two variances", explains it.
//
// A model trained with T steps knows every noise level alpha_bar[0..T-1]. Pick K of them,
// S_0 < S_1 < ... < S_{K-1}, and treat the K levels as a diffusion of their own: its step k jumps from
// level S_{k-1} to level S_k, so its alpha is the ratio of the two alpha_bars. Algorithm 2 (03.7 with
// 03.3) then runs unchanged on that K-step schedule, and the network is asked at the original
// timestep S_k, the noise level it was trained on. With K = T nothing changes.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "03_ddpm/ddpm.hpp"

namespace dm::ch03 {

struct Respaced {
  Schedule schedule;                    // K steps, [K] float64: alpha_bar[k] is the model's alpha_bar[S_k]
  std::vector<std::int64_t> timesteps;  // S_k, strictly increasing in 0..T-1, S_0 = 0 and S_{K-1} = T-1
};

// K evenly spaced levels of s, both ends included (rounded to the nearest step).
//   s   the schedule the model was trained with, T = s.T() steps
//   K   sampling steps, 1..T (else std::invalid_argument); K = 1 keeps the last level only
Respaced respace(const Schedule& s, std::int64_t K);

// The network as the respaced sampler calls it: eps_theta at the original timestep S_k when the
// sampler asks for step k. t is a [B] int64 tensor of step indices 0..K-1 (any device).
EpsModel at_original_timesteps(EpsModel eps_theta, const Respaced& r);

}  // namespace dm::ch03
