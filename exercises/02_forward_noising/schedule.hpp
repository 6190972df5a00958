// Noise schedules of the forward process (chapter 02).
//
// Timestep indices in code run t = 0 .. T-1, as in diffusers: index t is the
// paper's step t+1. beta[t] is the variance of the noise added by step t of the forward
// chain (lesson 02, "1. The forward chain"), and alpha_bar[t] is the fraction of the data's
// variance that survives steps 0..t.
//
// Schedule arithmetic is done in float64: alpha_bar is a product of 1000
// factors, and 1 - alpha_bar near t = 0 loses most of its digits in float32.
// Cast to the data's dtype only when a coefficient multiplies data (see extract()).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include <torch/types.h>

namespace dm::ch02 {

// ---- 02.1 beta schedules ---------------------------------------------------------------------------

// DDPM (Ho et al. 2020): beta rises linearly from beta_start to beta_end.
//   T          number of steps (>= 2)
//   returns    [T] float64, beta[0] = beta_start, beta[T-1] = beta_end, equal spacing
torch::Tensor linear_beta_schedule(std::int64_t T, double beta_start = 1e-4, double beta_end = 0.02);

// Improved DDPM (Nichol & Dhariwal 2021): the schedule is defined through alpha_bar, which
// follows a squared cosine of u = t / T in [0, 1] (offset by s, normalised to 1 at u = 0);
// beta is recovered from it and clipped to at most max_beta (the last step would otherwise
// be beta = 1 and destroy everything in one step). Lesson 02, "3. Schedules and the
// signal-to-noise ratio", gives the definition.
//   T          number of steps (>= 2)
//   s          small offset so that beta[0] is not vanishingly small (0.008 in the paper)
//   max_beta   upper clip of every beta (0.999 in the paper)
//   returns    [T] float64
torch::Tensor cosine_beta_schedule(std::int64_t T, double s = 0.008, double max_beta = 0.999);

// Sigmoid schedule (as in GeoDiff, Xu et al. 2022, and used by Jabri et al. 2022): beta
// follows a logistic sigmoid ramp in t between beta_start and beta_end (lesson 02,
// "3. Schedules and the signal-to-noise ratio", gives its definition and the sigmoid's range).
// We keep DDPM's end points (1e-4, 0.02) so the three schedules add about the same total
// noise (sum of beta ~ 10) and differ only in *when* they add it: slowly at first, fast in
// the middle, slowly at the end.
//   returns    [T] float64, increasing, strictly between beta_start and beta_end
torch::Tensor sigmoid_beta_schedule(std::int64_t T, double beta_start = 1e-4, double beta_end = 0.02);

// The names the chapter program accepts, and beta by name with the defaults above.
inline const std::array<const char*, 3> kScheduleNames = {"linear", "cosine", "sigmoid"};
// Throws std::invalid_argument for a name not in kScheduleNames.
torch::Tensor beta_schedule(const std::string& name, std::int64_t T);

// ---- 02.2 alpha, alpha_bar and the signal-to-noise ratio -------------------------------------------

// ANCHOR: schedule_struct
// Everything the forward process needs, all [T] float64 on beta's device.
struct Schedule {
  torch::Tensor beta;       // beta[t]: variance of the noise added by step t
  torch::Tensor alpha;      // alpha[t]: fraction of the variance that step t keeps
  torch::Tensor alpha_bar;  // alpha_bar[t]: fraction of the data's variance left after steps 0..t
  std::int64_t T() const { return beta.size(0); }
};
// ANCHOR_END: schedule_struct

// Builds alpha and alpha_bar from beta (lesson 02, "1. The forward chain" defines them;
// "2. Jumping to step $t$: $q(x_t \mid x_0)$ by induction" shows why alpha_bar is what it is).
//   beta       [T] float64 (any device), 0 < beta < 1
//   returns    Schedule{beta, alpha, alpha_bar}, all [T] float64 on beta's device; alpha_bar[t]
//              includes step t itself, so alpha_bar[0] already differs from 1
Schedule make_schedule(const torch::Tensor& beta);

// Signal-to-noise ratio of x_t at every t: the variance of x_t's signal part over the variance of
// its noise part, for unit-variance data (lesson 02, "3. Schedules and the signal-to-noise ratio").
//   alpha_bar  [T] float64
//   returns    [T] float64, > 0, decreasing in t
torch::Tensor snr(const torch::Tensor& alpha_bar);

// make_schedule(beta_schedule(name, T)).
Schedule named_schedule(const std::string& name, std::int64_t T);

}  // namespace dm::ch02
