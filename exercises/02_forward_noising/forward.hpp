// The forward process q: one step of the chain, and the closed form q(x_t | x_0).
//
// Indices as in schedule.hpp: t = 0..T-1, index t is the paper's step t+1. With x0 the data,
//   q_step(s, x0, 0, z0), then q_step(s, ., 1, z1), ..., q_step(s, ., t, zt)
// produces a sample with the same law as q_sample(s, x0, t, eps): both are "x0 after the
// steps 0..t".
#pragma once

#include <torch/types.h>

#include "02_forward_noising/schedule.hpp"

namespace dm::ch02 {

// Picks coef[t_b] for every example b and shapes it to broadcast against x.
//   coef      [T] (any float dtype, usually float64)
//   t         [B] int64, each in 0..T-1
//   x         [B, ...] the tensor the result multiplies (gives dtype, device, rank)
//   returns   [B, 1, ..., 1] (x.dim() dimensions) in x's dtype, on x's device
torch::Tensor extract(const torch::Tensor& coef, const torch::Tensor& t, const torch::Tensor& x);

// ---- 02.3 one draw of the closed form q(x_t | x_0) -------------------------------------------------
// The law of x_t after steps 0..t of the chain, reached in one shot instead of t + 1 steps
// (lesson 02, "2. Jumping to step $t$: $q(x_t \mid x_0)$ by induction"); eps supplies the randomness.
//   s         the schedule
//   x0        [B, C, H, W] data (any shape [B, ...]), float32 or float64
//   t         [B] int64 timestep index of each example, 0..T-1
//   eps       noise ~ N(0, I), same shape as x0
//   returns   x_t, shape and dtype of x0 (coefficients in float64, cast by extract())
torch::Tensor q_sample(const Schedule& s, const torch::Tensor& x0, const torch::Tensor& t, const torch::Tensor& eps);

// ---- 02.5 one draw of one step of the Markov chain q(x_t | x_{t-1}) -------------------------------
// The variance-preserving step of lesson 02, "1. The forward chain": it adds noise of variance
// beta[t] and keeps a unit-variance input at unit variance; z supplies the randomness.
//   s         the schedule
//   x_prev    [B, ...] the sample before step t (for t = 0: the data)
//   t         [B] int64 index of the step to apply, 0..T-1
//   z         noise ~ N(0, I), same shape as x_prev
//   returns   x_t, shape and dtype of x_prev (coefficients in float64, cast by extract())
torch::Tensor q_step(const Schedule& s, const torch::Tensor& x_prev, const torch::Tensor& t, const torch::Tensor& z);

}  // namespace dm::ch02
