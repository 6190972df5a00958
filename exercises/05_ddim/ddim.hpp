// DDIM (Song, Meng & Ermon 2021): sampling a trained DDPM in a few steps, with a knob eta
// between a deterministic ODE (eta = 0) and DDPM's ancestral sampler (eta = 1).
//
// Indices as in chapter 02 (and diffusers): t = 0..T-1, alpha_bar[t] is the paper's
// alpha_bar_{t+1}. The data sits one step before t = 0, at "t = -1", where alpha_bar = 1.
// Everything here takes the schedule as the plain [T] float64 tensor alpha_bar, so this
// chapter does not depend on chapter 02's code.
//
//   05.1 ddim_timesteps / previous_timesteps   which T-grid points a sampler of `steps` visits
//   05.2 ddim_sigma / predict_x0 / ddim_step    one generalised DDIM step
//   05.3 ddim_sample                            the sampler loop, over the parts of 05.1 and 05.2
//   05.4 ddim_invert                            the eta = 0 ODE run forwards: data -> latent noise
//   05.5 slerp                                  interpolating between two noises
// The two loops (05.3, 05.4) take the functions of 05.1 and 05.2 as an argument (DdimParts): the
// chapter program passes yours (exercise_parts()), the tests pass small recording fakes, so a slip in
// 05.1 or 05.2 costs those exercises' points only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/types.h>

namespace dm::ch05 {

// ---- 05.1 timestep schedules -------------------------------------------------------------------------
//
// A sampler with `steps` < T steps evaluates the model at a decreasing subsequence of 0..T-1.
// Three ways to pick it, as in diffusers' DDIMScheduler.set_timesteps (v0.40, the names of
// Lin et al. 2024, "Common Diffusion Noise Schedules and Sample Steps are Flawed", Table 2);
// lesson 05, "4. Which timesteps? Spacing, and the $t_\text{prev}$ pitfall", gives each rule:
//   leading   evenly spaced upwards from t = 0 with an integer stride, shifted by `offset`
//             T = 1000, 5 steps, offset 1:  801, 601, 401, 201, 1
//   trailing  evenly spaced downwards from T with a real stride, rounded, ending one below
//             T = 1000, 5 steps:            999, 799, 599, 399, 199
//   linspace  evenly spaced from 0 to T - 1, both included, rounded (steps = 1: {0})
//             T = 1000, 5 steps:            999, 749, 500, 250, 0
// Rounding sends ties to the even neighbour, like numpy's round (std::nearbyint does that).
// Only trailing and linspace start at t = T-1, where x_T really is N(0, I) noise; leading starts
// T/steps - 1 - offset steps later, at a noise level the model has never seen as pure noise.
enum class Spacing { Leading, Trailing, Linspace };
Spacing parse_spacing(const std::string& name);  // "leading" | "trailing" | "linspace", else std::invalid_argument
const char* spacing_name(Spacing s);

//   T          number of training steps (>= 1)
//   steps      sampling steps, 1..T (else std::invalid_argument)
//   offset     added to every leading timestep (diffusers' steps_offset; Stable Diffusion uses 1);
//              ignored by trailing and linspace. Every t must stay in 0..T-1 (else std::invalid_argument).
//   returns    `steps` strictly decreasing timesteps in 0..T-1
std::vector<std::int64_t> ddim_timesteps(std::int64_t T, std::int64_t steps, Spacing spacing, std::int64_t offset = 0);

// Where each step lands: the NEXT entry of the materialised schedule, and -1 (the data,
// alpha_bar = 1) after the last one. Never t - T/steps: that is right for one spacing only.
//   timesteps  from ddim_timesteps
//   returns    same length; t_prev[i] = timesteps[i+1], t_prev[last] = -1
std::vector<std::int64_t> previous_timesteps(const std::vector<std::int64_t>& timesteps);

// alpha_bar at t, with alpha_bar(-1) = final_alpha_bar (1: the final step lands on clean data,
// diffusers' set_alpha_to_one = true; pass alpha_bar[0] for set_alpha_to_one = false).
double alpha_bar_at(const torch::Tensor& alpha_bar, std::int64_t t, double final_alpha_bar = 1.0);

// ---- 05.2 the generalised DDIM step ------------------------------------------------------------------
//
// DDIM's family of forward processes q_sigma has the same marginals q(x_t | x_0) as DDPM for every
// choice of sigma. Its reverse step from x_t (at alpha_bar_t) to x_prev (at alpha_bar_prev) puts the
// model's guess x0_hat where x_0 would be and splits x_prev's noise between the predicted eps and
// fresh noise sigma z (lesson 05, "2. The DDIM step"); DDIM's choice of sigma is a function of one
// number eta: eta times the sigma that makes the step DDPM's own posterior across the jump (lesson 05,
// "3. $\sigma_t(\eta)$ and the DDPM limit", where you derive it).
// eta = 0: no noise (deterministic); eta = 1 between consecutive steps: sigma^2 = DDPM's beta_tilde_t.

// The standard deviation sigma of the fresh noise of one step: eta times the standard deviation of
// x_prev given x_t and x_0 under DDPM's forward process across the jump.
//   alpha_bar_t, alpha_bar_prev   0 < alpha_bar_t < alpha_bar_prev <= 1
//   eta                           in [0, 1]
//   returns                       sigma >= 0; 0 at eta = 0
double ddim_sigma(double alpha_bar_t, double alpha_bar_prev, double eta);

// x0_hat: the x_0 that the closed form q(x_t | x_0) pairs with x_t and the predicted noise eps.
//   x_t, eps   [B, ...] same shape;  returns [B, ...]
torch::Tensor predict_x0(const torch::Tensor& x_t, const torch::Tensor& eps, double alpha_bar_t);

struct DdimStep {
  torch::Tensor x_prev;  // [B, ...] the sample at alpha_bar_prev
  torch::Tensor x0_hat;  // [B, ...] the model's guess of the data, seen from x_t
};

// One generalised DDIM step from alpha_bar_t to alpha_bar_prev (any two levels, not only neighbours).
//   x_t        [B, ...] current sample;  eps [B, ...] the model's eps(x_t, t)
//   z          [B, ...] N(0, I) noise; may be undefined when sigma(eta) = 0
//   returns    x_prev at alpha_bar_prev and x0_hat, both [B, ...]
DdimStep ddim_step(const torch::Tensor& x_t, const torch::Tensor& eps, double alpha_bar_t, double alpha_bar_prev,
                   double eta, const torch::Tensor& z = {});

// ---- the parts of the loops ------------------------------------------------------------------------

// The functions of 05.1 and 05.2 that the loops of 05.3 and 05.4 are made of, with their signatures.
struct DdimParts {
  // T, steps, spacing, offset -> the decreasing timesteps a sampler visits (05.1's ddim_timesteps)
  std::function<std::vector<std::int64_t>(std::int64_t T, std::int64_t steps, Spacing spacing, std::int64_t offset)>
      timesteps;
  // the timesteps -> where each step lands, -1 after the last (05.1's previous_timesteps)
  std::function<std::vector<std::int64_t>(const std::vector<std::int64_t>& timesteps)> previous_timesteps;
  // alpha_bar_t, alpha_bar_prev, eta -> sigma, the standard deviation of a step's fresh noise (05.2's ddim_sigma)
  std::function<double(double alpha_bar_t, double alpha_bar_prev, double eta)> sigma;
  // x_t, eps, alpha_bar_t -> x0_hat (05.2's predict_x0)
  std::function<torch::Tensor(const torch::Tensor& x_t, const torch::Tensor& eps, double alpha_bar_t)> predict_x0;
  // x_t, eps, alpha_bar_t, alpha_bar_prev, eta, z -> one DDIM step down to alpha_bar_prev (05.2's ddim_step)
  std::function<DdimStep(const torch::Tensor& x_t, const torch::Tensor& eps, double alpha_bar_t, double alpha_bar_prev,
                         double eta, const torch::Tensor& z)>
      step;
};

// The chapter's own parts: ddim_timesteps, previous_timesteps, ddim_sigma, predict_x0 and ddim_step
// above (yours, on the exercises track).
DdimParts exercise_parts();

// ---- 05.3 the sampler loop ---------------------------------------------------------------------------

// The model: eps(x, t) for a batch x [B, ...] at timesteps t [B] int64 (all equal here).
using EpsFn = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& t)>;
// Noise for sampler step i (0-based), shaped like x; the default is torch::randn_like(x).
using NoiseFn = std::function<torch::Tensor(const torch::Tensor& x, std::int64_t i)>;
// Called after each step i with its timestep t, the new sample and x0_hat (for figures and videos).
using StepCallback =
    std::function<void(std::int64_t i, std::int64_t t, const torch::Tensor& x, const torch::Tensor& x0_hat)>;

struct DdimOptions {
  std::int64_t steps = 50;              // sampling steps, 1..T
  Spacing spacing = Spacing::Trailing;  // how to pick them
  std::int64_t offset = 0;              // leading spacing only (diffusers' steps_offset)
  double eta = 0;                       // 0: deterministic DDIM; 1: DDPM-like noise
  double final_alpha_bar = 1.0;         // alpha_bar at t = -1 (see alpha_bar_at)
};

// Runs x_T down the schedule ts = parts.timesteps(T, opt.steps, opt.spacing, opt.offset), with
// t_prev = parts.previous_timesteps(ts) (lesson 05, "5. The sampler, and the ODE view"). Step i,
// for i = 0, 1, ..., goes from the level of ts[i] to the level of t_prev[i] (alpha_bar_at; the last
// step lands on t = -1, whose alpha_bar is opt.final_alpha_bar):
//   eps      eps_fn(x, t) with t the [B] int64 tensor of ts[i], on x's device
//   noise    z = noise_fn(x, i) (torch::randn_like(x) when noise_fn is empty), drawn only at the steps
//            whose parts.sigma(alpha_bar_t, alpha_bar_prev, opt.eta) is > 0 (never at eta = 0);
//            undefined otherwise
//   step     parts.step(x, eps, alpha_bar_t, alpha_bar_prev, opt.eta, z); its x_prev is the next x
//   on_step  on_step(i, ts[i], x_prev, x0_hat) after the step, when given
// No gradients are recorded.
//   parts      the functions of 05.1 and 05.2 (timesteps, previous_timesteps, sigma and step are used)
//   alpha_bar  [T] float64;  x_T [B, ...] the starting noise
//   returns    x_0 [B, ...], the last step's x_prev
torch::Tensor ddim_sample(const DdimParts& parts, const EpsFn& eps_fn, const torch::Tensor& alpha_bar,
                          const torch::Tensor& x_T, const DdimOptions& opt, const NoiseFn& noise_fn = nullptr,
                          const StepCallback& on_step = nullptr);

// ---- 05.4 DDIM inversion -----------------------------------------------------------------------------
//
// With eta = 0 each step is a deterministic map, so it can be run backwards: from the data x_0 up
// the same schedule (ts and t_prev from parts, as in ddim_sample), step i going from level t_prev_i
// to level t_i (i = steps-1 down to 0), each one the eta = 0 DDIM step with the roles of the two
// levels swapped (lesson 05, "6. Inversion: running the ODE forwards"): x0_hat = parts.predict_x0 at
// the level the point is at (at t = -1, the data, alpha_bar is opt.final_alpha_bar), and the point
// moved to the level it goes to with the same eps. eps = eps_fn(x, [t_i]*B) is evaluated at the
// current point with the TARGET level's timestep: the exact inverse would need eps at the unknown end
// point; this is first order. parts.step and parts.sigma are not used: they go down the levels only
// (sigma has no real value upwards). Sampling the result with the same options returns
// approximately x_0; the error shrinks like 1/steps. No gradients are recorded.
//   parts    the functions of 05.1 and 05.2 (timesteps, previous_timesteps and predict_x0 are used)
//   x0       [B, ...] data;  opt.eta is ignored (always 0)
//   returns  the latent x_T [B, ...]
torch::Tensor ddim_invert(const DdimParts& parts, const EpsFn& eps_fn, const torch::Tensor& alpha_bar,
                          const torch::Tensor& x0, const DdimOptions& opt);

// ---- 05.5 spherical interpolation ---------------------------------------------------------------------
//
// High-dimensional Gaussian noise lives near the sphere of radius sqrt(D); the straight line between
// two draws cuts inside it (its midpoint has norm ~ sqrt(D / 2)), where the model never saw noise.
// slerp walks along the great circle through z0 and z1 instead, per example b (vectors flattened over
// [...]), covering the fraction alpha of the angle theta between them at constant angular speed
// (lesson 05, "8. Interpolating noises: slerp"). When sin(theta) < 1e-6 (z0, z1 parallel) it falls
// back to the straight-line interpolation between them.
//   z0, z1   [B, ...] same shape;  alpha in [0, 1]
//   returns  [B, ...] in z0's dtype: z0 at alpha = 0, z1 at alpha = 1
torch::Tensor slerp(const torch::Tensor& z0, const torch::Tensor& z1, double alpha);

}  // namespace dm::ch05
