// DDPM (Ho et al. 2020) in four pieces: the timestep embedding the U-Net is conditioned on, the
// training loss L_simple (Algorithm 1), one ancestral reverse step (Algorithm 2), and the EMA of
// the weights that is used for sampling.
//
// Indices as in chapter 02's schedule.hpp: t = 0..T-1, index t is the paper's step t+1, so
// alpha_bar[t] already includes step t, and "alpha_bar_prev" for t = 0 is 1 (no noise yet).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <torch/types.h>

#include "02_forward_noising/schedule.hpp"

namespace dm::ch03 {

using dm::ch02::Schedule;

// ---- 03.1 sinusoidal timestep embedding ------------------------------------------------------------
// The Transformer's sinusoidal position encoding (Vaswani et al. 2017), used by DDPM for t: each
// timestep becomes dim / 2 sines and dim / 2 cosines of t at geometrically spaced frequencies set by
// max_period (lesson 03, "4. The network: a U-Net conditioned on $t$", gives them). Layout: all the
// sines first, then all the cosines, each from the highest frequency down (the layout of the course
// U-Net's dm::nn::timestep_embedding, which a test compares with).
//   t          [B] int64 timesteps (any values >= 0)
//   dim        even, >= 2
//   returns    [B, dim] float32 on t's device; at t = 0 the sines are all 0 and the cosines all 1
torch::Tensor sinusoidal_embedding(const torch::Tensor& t, std::int64_t dim, double max_period = 10000.0);

// sinusoidal_embedding as the course U-Net's timestep embedding (dm::nn::TimestepEmbedding): what the
// programs that build or load a U-Net pass to it, so the student's 03.1 conditions every model.
inline auto sinusoidal_embedding_fn() {
  return [](const torch::Tensor& t, std::int64_t dim) { return sinusoidal_embedding(t, dim); };
}

// ---- 03.2 the training loss L_simple ------------------------------------------------------------------
// eps_theta: the network, called as eps_theta(x_t, t) with x_t [B, ...] and t [B] int64.
using EpsModel = std::function<torch::Tensor(const torch::Tensor& x_t, const torch::Tensor& t)>;

// DDPM's simplified loss L_simple (lesson 03, "2. Predicting the noise instead of the mean"): how well
// eps_theta recovers the noise eps from x_t drawn from q(x_t | x_0) with that eps, estimated on one
// batch with the t and eps given (Algorithm 1 draws them: t uniform in 0..T-1, eps ~ N(0, I)), as the
// mean over every element (batch and pixels) of the squared error.
//   s          the schedule ([T] float64)
//   eps_theta  the model
//   x0         [B, C, H, W] data, float32
//   t          [B] int64 in 0..T-1
//   eps        [B, C, H, W] the noise mixed into x0 (and the regression target)
//   returns    a scalar tensor (differentiable through eps_theta)
torch::Tensor l_simple(const Schedule& s, const EpsModel& eps_theta, const torch::Tensor& x0, const torch::Tensor& t,
                       const torch::Tensor& eps);

// ---- 03.3 one reverse step p(x_{t-1} | x_t) (Algorithm 2) --------------------------------------------
// The two choices of the reverse variance sigma_t^2 in Ho et al. section 3.2: the forward step's beta_t
// (optimal for x0 ~ N(0, I)) or chapter 02's posterior variance beta_tilde_t (optimal for x0 a single
// point); both give similar samples at T = 1000 (lesson 03, "3. Sampling: Algorithm 2 and the two
// variances").
enum class Variance { Beta, BetaTilde };

struct ReverseStep {
  torch::Tensor x_prev;  // x_{t-1}, shape of x_t
  torch::Tensor x0_hat;  // the prediction of x_0 behind this step (clipped when clip_x0), shape of x_t
};

// One draw of DDPM's reverse step, its mean written with the predicted noise eps (lesson 03,
// "2. Predicting the noise instead of the mean", derives the mean; "3. Sampling: Algorithm 2 and the
// two variances" the step), and x0_hat, the x_0 that the closed form q(x_t | x_0) pairs with x_t and
// eps. No noise is added at t = 0 (the last step: z is ignored).
// With clip_x0, x0_hat is clipped to [-1, 1] (the data range) and the mean is chapter 02's posterior
// mean mu_tilde(x_t, x0_hat) (equal to the unclipped mean when nothing is clipped).
//   s          the schedule ([T] float64)
//   x_t        [B, ...] float32, the current sample
//   t          the timestep index of x_t, 0..T-1 (the same for the whole batch)
//   eps        [B, ...] eps_theta(x_t, t)
//   z          [B, ...] fresh N(0, I) noise (ignored at t = 0)
//   returns    x_{t-1} and x0_hat, float32
ReverseStep p_sample(const Schedule& s, const torch::Tensor& x_t, std::int64_t t, const torch::Tensor& eps,
                     const torch::Tensor& z, Variance variance = Variance::Beta, bool clip_x0 = false);

// ---- 03.4 EMA of the weights, with warmup --------------------------------------------------------------
// The decay of EMA update number `step` (the number of updates done before this one): DDPM's warmup
// rule (lesson 03, "Why the EMA"), small for the first updates, growing with step, capped at max_decay.
//   returns   at most max_decay
double ema_decay(std::int64_t step, double max_decay);

// One update of the exponential moving average with decay `decay` (lesson 03, "Why the EMA"): every
// ema[k] is moved towards params[k], in place and without autograd; params are not modified.
//   ema, params  same length, tensors of matching shapes
void ema_update(const std::vector<torch::Tensor>& ema, const std::vector<torch::Tensor>& params, double decay);

}  // namespace dm::ch03
