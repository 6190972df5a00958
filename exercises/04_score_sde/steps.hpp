// One step of each sampler that turns a score into samples (chapter 04).
//
// Time runs backwards, from t = 1 (noise) to t_min ~ 0 (data), in steps of h > 0. With the VP-SDE
// of sde.hpp, f(x, t) = -1/2 beta(t) x and g(t)^2 = beta(t):
//   reverse-time SDE (Anderson 1982)   dx = [f - g^2 grad log p_t] dt + g dW_bar     (dt < 0)
//   probability-flow ODE (Song 2021)   dx = [f - 1/2 g^2 grad log p_t] dt
// Both have the marginals p_t of the forward process. Annealed Langevin dynamics instead runs a
// few Langevin steps at each noise level, each of which leaves p_t itself (nearly) unchanged.
#pragma once

#include <torch/types.h>

#include "04_score_sde/sde.hpp"

namespace dm::ch04 {

// ---- 04.3 annealed Langevin dynamics ---------------------------------------------------------------
// One Langevin step towards the density whose score at x is `score_x`, with step size delta:
//   x' = x + (delta / 2) score_x + sqrt(delta) z
//   x, score_x, z   [n, 2]; z ~ N(0, I)
//   returns         [n, 2]
torch::Tensor langevin_step(const torch::Tensor& x, const torch::Tensor& score_x, double delta, const torch::Tensor& z);
// The step size from a target signal-to-noise ratio r (Song et al. 2021, their corrector):
//   delta = 2 (r |z| / |score_x|)^2,   |.| the per-sample L2 norm averaged over the batch.
// For a Gaussian of width w, |score_x| ~ |z| / w, so delta ~ 2 r^2 w^2: the step follows the
// local width of p_t, at every noise level, without knowing it.
//   score_x, z      [n, d]
//   r               the ratio, e.g. 0.2
double langevin_step_size(const torch::Tensor& score_x, const torch::Tensor& z, double r);

// ---- 04.4 the reverse-time SDE, Euler-Maruyama -----------------------------------------------------
// One step from t to t - h (h > 0) of dx = [f - g^2 score] dt + g dW_bar:
//   x' = x - h [f(x, t) - g(t)^2 score(x, t)] + g(t) sqrt(h) z
//      = x + h beta(t) (x / 2 + score) + sqrt(beta(t) h) z
//   returns [n, 2]
torch::Tensor reverse_sde_step(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t, double h,
                               const torch::Tensor& z);

// ---- 04.5 the probability-flow ODE, Euler and Heun -------------------------------------------------
// The ODE's velocity dx/dt = f - 1/2 g^2 score = -1/2 beta(t) (x + score(x, t)).
torch::Tensor pf_ode_velocity(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t);
// Euler from t to t - h:  x' = x - h velocity(x, t)   (one score evaluation)
torch::Tensor pf_ode_euler_step(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t, double h);
// Heun (the trapezoidal rule with an Euler predictor, EDM's second-order step) from t to t - h:
//   x~ = x - h v1,  v1 = velocity(x, t);   x' = x - h/2 (v1 + velocity(x~, t - h))   (two evaluations)
torch::Tensor pf_ode_heun_step(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t, double h);

}  // namespace dm::ch04
