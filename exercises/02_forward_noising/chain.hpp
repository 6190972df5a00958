// The forward Markov chain as a whole loop: x_0, then one step after another up to a chosen step. It
// takes its parts as arguments — the step, the noise source, a callback — so the chapter program
// passes the real ones (02.5's q_step with the schedule bound, a seeded generator) and a test passes
// small recording fakes.
#pragma once

#include <cstdint>
#include <functional>

#include <torch/types.h>

namespace dm::ch02 {

// ---- 02.6 the forward chain, step by step ------------------------------------------------------------
// One step of the chain, called as step(x_prev, t, z) with t a [B] int64 tensor on x_prev's device,
// every entry the index of the step to take: 02.5's q_step with the schedule bound, in the program.
using ForwardStep =
    std::function<torch::Tensor(const torch::Tensor& x_prev, const torch::Tensor& t, const torch::Tensor& z)>;
// The fresh N(0, I) noise of step t, called as noise(x_prev, t): x_prev's shape, dtype and device.
using StepNoise = std::function<torch::Tensor(const torch::Tensor& x, std::int64_t t)>;
// Called after step t with that step's result x_t (for the program's moments and video frames).
using ChainCallback = std::function<void(std::int64_t t, const torch::Tensor& x_t)>;

// Runs the forward chain of lesson 02, "1. The forward chain", from the data x0 through the steps
// 0, 1, ..., t_end (t_end included; indices as in schedule.hpp, index t is the paper's step t+1). Each
// step sees the previous step's result (the first one sees x0) and its own fresh noise, drawn for it.
//   step      one step of the chain
//   x0        [B, ...] the data (any float dtype)
//   t_end     the index of the last step to take, >= 0 (T - 1 runs the whole chain)
//   noise     the step noise
//   on_step   optional, called after every step
//   returns   x_{t_end}, the sample after step t_end: x0's shape
torch::Tensor q_chain(const ForwardStep& step, const torch::Tensor& x0, std::int64_t t_end, const StepNoise& noise,
                      const ChainCallback& on_step = nullptr);

}  // namespace dm::ch02
