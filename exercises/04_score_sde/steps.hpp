// One step of each sampler that turns a score into samples (chapter 04).
//
// Time runs backwards, from t = 1 (noise) to t_min ~ 0 (data), in steps of h > 0. The forward
// process is the VP-SDE of sde.hpp, dx = f dt + g dW with f(x, t) = -1/2 beta(t) x and
// g(t)^2 = beta(t). Two samplers have the marginals p_t of the forward process: the reverse-time SDE
// (Anderson 1982), noisy, and the probability-flow ODE (Song et al. 2021), deterministic; both
// correct the forward drift with the score (lesson 04, "5. From a score to samples"). Annealed
// Langevin dynamics instead runs a few Langevin steps at each noise level, each of which leaves
// p_t itself (nearly) unchanged.
#pragma once

#include <torch/types.h>

#include "04_score_sde/sde.hpp"

namespace dm::ch04 {

// ---- 04.3 annealed Langevin dynamics ---------------------------------------------------------------
// One (unadjusted) Langevin step towards the density whose score at x is `score_x` (lesson 04,
// "Langevin dynamics"). Units: delta is the variance of the noise the step injects.
//   x, score_x, z   [n, 2]; z ~ N(0, I)
//   returns         [n, 2]
torch::Tensor langevin_step(const torch::Tensor& x, const torch::Tensor& score_x, double delta, const torch::Tensor& z);
// The step size Song et al. (2021) set for their corrector from a target signal-to-noise ratio r
// (lesson 04, "Langevin dynamics"), comparing the per-sample L2 norms of z and of score_x, each
// averaged over the batch. For a Gaussian target it scales like the variance of p_t: the step follows
// the local width of p_t, at every noise level, without knowing it.
//   score_x, z      [n, d]
//   r               the ratio, e.g. 0.2
//   returns         delta > 0
double langevin_step_size(const torch::Tensor& score_x, const torch::Tensor& z, double r);

// ---- 04.4 the reverse-time SDE, Euler-Maruyama -----------------------------------------------------
// One Euler-Maruyama step from t to t - h (h > 0) of the reverse-time SDE, with score(x, t) in
// place of grad log p_t (lesson 04, "The reverse-time SDE"). The score is evaluated once, at (x, t).
//   x, z     [n, 2]; z ~ N(0, I), the step's Brownian draw
//   returns  [n, 2]
torch::Tensor reverse_sde_step(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t, double h,
                               const torch::Tensor& z);

// ---- 04.5 the probability-flow ODE, Euler and Heun -------------------------------------------------
// The velocity dx/dt of the probability-flow ODE at (x, t), with score(x, t) in place of
// grad log p_t (lesson 04, "The probability-flow ODE"). x [n, 2] -> [n, 2]; one score evaluation.
torch::Tensor pf_ode_velocity(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t);
// Euler's method for that ODE from t to t - h (h > 0); one score evaluation.
torch::Tensor pf_ode_euler_step(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t, double h);
// Heun's method (EDM's second-order step) for that ODE from t to t - h (h > 0): two score
// evaluations, the second at time t - h (lesson 04, "The probability-flow ODE").
torch::Tensor pf_ode_heun_step(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t, double h);

}  // namespace dm::ch04
