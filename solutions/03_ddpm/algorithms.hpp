// DDPM's two algorithms as whole loops: one training step of Algorithm 1 and the ancestral sampler of
// Algorithm 2 (Ho et al. 2020). Each takes its parts as arguments — the network, the loss, the reverse
// step, the optimizer, the noise source — so the chapter program passes the real ones (the U-Net,
// 03.2's l_simple, 03.3's p_sample, AdamW, torch's generator) and a test passes small recording fakes.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <torch/types.h>

#include "03_ddpm/ddpm.hpp"

namespace dm::ch03 {

// ---- 03.6 one training step (Algorithm 1) ------------------------------------------------------------
// Where a step's randomness comes from. The program draws from torch's generator; a test records.
struct TrainingDraws {
  std::function<torch::Tensor(std::int64_t batch, std::int64_t T)> timesteps;  // [batch] int64, uniform in 0..T-1
  std::function<torch::Tensor(const torch::Tensor& x0)> noise;                 // N(0, I), x0's shape and dtype
};

// The loss of one batch, called as loss(s, eps_theta, x0, t, eps): 03.2's l_simple in the program.
using LossFn = std::function<torch::Tensor(const Schedule& s, const EpsModel& eps_theta, const torch::Tensor& x0,
                                           const torch::Tensor& t, const torch::Tensor& eps)>;

// Everything one step of training touches, passed in rather than owned.
struct TrainStepParts {
  EpsModel eps_theta;                                 // the network, eps_theta(x_t, t)
  std::vector<torch::Tensor> params;                  // its trainable parameters (their gradients are read)
  LossFn loss;                                        // the training objective
  TrainingDraws draws;                                // t and eps of the batch
  std::function<void()> zero_grad;                    // clears every gradient of params
  std::function<void()> optimizer_step;               // one update of params from their gradients
  std::function<void(std::int64_t step)> update_ema;  // moves the weights' average towards params (03.4)
};

struct TrainStepResult {
  double loss = 0;       // the batch's loss, before the update
  double grad_norm = 0;  // the global L2 norm of all the gradients, before clipping
  bool stepped = false;  // false when the loss was not finite: then nothing was updated
};

// One optimizer step of Algorithm 1 on the minibatch x0 (lesson 03, "5. Training in practice"): draw
// the batch's timesteps and noise, evaluate the loss, back-propagate into fresh gradients, clip them to
// a global norm of at most max_grad_norm (all parameters together, directions kept), update the
// parameters, then the EMA of the weights. A loss that is not finite (NaN or infinite) stops the step
// before anything is updated, so the caller can keep its last good checkpoint.
//   parts          the network, its parameters, the loss, the draws, the optimizer and the EMA
//   s              the schedule (gives T)
//   x0             [B, C, H, W] the minibatch, float32
//   step           the number of steps done before this one (0 for the first), passed to update_ema
//   max_grad_norm  > 0
TrainStepResult train_step(const TrainStepParts& parts, const Schedule& s, const torch::Tensor& x0, std::int64_t step,
                           double max_grad_norm);

// ---- 03.7 the ancestral sampler (Algorithm 2) --------------------------------------------------------
// One reverse step, called as step(x_t, t, eps, z): 03.3's p_sample with the schedule and the variance
// bound, in the program.
using ReverseStepFn = std::function<ReverseStep(const torch::Tensor& x_t, std::int64_t t, const torch::Tensor& eps,
                                                const torch::Tensor& z)>;
// The fresh N(0, I) noise of the step at timestep t, called as noise(x_t, t): x_t's shape and device.
using StepNoiseFn = std::function<torch::Tensor(const torch::Tensor& x_t, std::int64_t t)>;
// Called after the step at timestep t with that step's result (for the program's videos).
using SampleCallback = std::function<void(std::int64_t t, const torch::Tensor& x_prev, const torch::Tensor& x0_hat)>;

// Algorithm 2 (lesson 03, "3. Sampling: Algorithm 2 and the two variances"): starting from x_T at
// timestep index T-1, visits every timestep down to 0, each time asking eps_theta for the noise in the
// current sample, drawing the step's noise (every step draws, also the last, whose step ignores it) and
// taking one reverse step. Runs without autograd.
//   eps_theta  the network, called with the current sample and a [B] int64 tensor of t on its device
//   step       one reverse step
//   T          the number of timesteps, >= 1
//   x_T        [B, ...] the starting noise
//   noise      the step noise
//   on_step    optional, called after every step
//   returns    x_0, x_T's shape
torch::Tensor p_sample_loop(const EpsModel& eps_theta, const ReverseStepFn& step, std::int64_t T,
                            const torch::Tensor& x_T, const StepNoiseFn& noise,
                            const SampleCallback& on_step = nullptr);

}  // namespace dm::ch03
