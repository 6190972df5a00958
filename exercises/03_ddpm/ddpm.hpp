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
// The Transformer's position encoding (Vaswani et al. 2017), used by DDPM for t:
//   half = dim / 2,   freq_i = exp(-ln(max_period) * i / half) = max_period^(-i / half),  i = 0..half-1
//   emb(t) = [ sin(t freq_0) ... sin(t freq_{half-1}),  cos(t freq_0) ... cos(t freq_{half-1}) ]
// (sines first, then cosines: the layout of the course U-Net's dm::nn::timestep_embedding).
//   t          [B] int64 timesteps (any values >= 0)
//   dim        even, >= 2
//   returns    [B, dim] float32 on t's device
torch::Tensor sinusoidal_embedding(const torch::Tensor& t, std::int64_t dim, double max_period = 10000.0);

// ---- 03.2 the training loss L_simple ------------------------------------------------------------------
// eps_theta: the network, called as eps_theta(x_t, t) with x_t [B, ...] and t [B] int64.
using EpsModel = std::function<torch::Tensor(const torch::Tensor& x_t, const torch::Tensor& t)>;

// L_simple = E_{t, x0, eps} || eps - eps_theta( sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps, t ) ||^2,
// estimated on one batch with the t and eps given (Algorithm 1 draws them: t uniform in 0..T-1,
// eps ~ N(0, I)), as the mean over every element (batch and pixels) of the squared error.
//   s          the schedule ([T] float64)
//   eps_theta  the model
//   x0         [B, C, H, W] data, float32
//   t          [B] int64 in 0..T-1
//   eps        [B, C, H, W] the noise mixed into x0 (and the regression target)
//   returns    a scalar tensor (differentiable through eps_theta)
torch::Tensor l_simple(const Schedule& s, const EpsModel& eps_theta, const torch::Tensor& x0, const torch::Tensor& t,
                       const torch::Tensor& eps);

// ---- 03.3 one reverse step p(x_{t-1} | x_t) (Algorithm 2) --------------------------------------------
// The two choices of the reverse variance in Ho et al. section 3.2: sigma_t^2 = beta_t (optimal for
// x0 ~ N(0, I)) or sigma_t^2 = beta_tilde_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t (optimal
// for x0 a single point); both give similar samples at T = 1000.
enum class Variance { Beta, BetaTilde };

struct ReverseStep {
  torch::Tensor x_prev;  // x_{t-1}, shape of x_t
  torch::Tensor x0_hat;  // the prediction of x_0 behind this step (clipped when clip_x0), shape of x_t
};

// x_{t-1} = 1/sqrt(alpha_t) ( x_t - beta_t / sqrt(1 - alpha_bar_t) eps ) + sigma_t z      (no noise at t = 0)
// x0_hat  = ( x_t - sqrt(1 - alpha_bar_t) eps ) / sqrt(alpha_bar_t)
// With clip_x0, x0_hat is clipped to [-1, 1] (the data range) and the mean is the posterior mean
// mu_tilde(x_t, x0_hat) = coef_x0 x0_hat + coef_xt x_t of chapter 02 (equal to the line above when
// nothing is clipped).
//   s          the schedule ([T] float64)
//   x_t        [B, ...] float32, the current sample
//   t          the timestep index of x_t, 0..T-1 (the same for the whole batch)
//   eps        [B, ...] eps_theta(x_t, t)
//   z          [B, ...] fresh N(0, I) noise (ignored at t = 0)
//   returns    x_{t-1} and x0_hat, float32
ReverseStep p_sample(const Schedule& s, const torch::Tensor& x_t, std::int64_t t, const torch::Tensor& eps,
                     const torch::Tensor& z, Variance variance = Variance::Beta, bool clip_x0 = false);

// ---- 03.4 EMA of the weights, with warmup --------------------------------------------------------------
// decay(step) = min(max_decay, (1 + step) / (10 + step)), step = number of updates done before this one.
double ema_decay(std::int64_t step, double max_decay);

// ema_k <- decay * ema_k + (1 - decay) * param_k for every k, in place, without autograd.
//   ema, params  same length, tensors of matching shapes
void ema_update(const std::vector<torch::Tensor>& ema, const std::vector<torch::Tensor>& params, double decay);

}  // namespace dm::ch03
