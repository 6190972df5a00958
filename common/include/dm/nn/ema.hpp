// Exponential moving average of weights, with warmup (the course's trusted version; exercise 03.4 is
// the student's own, used by the chapter 03 program).
//
//   decay(step) = min(max_decay, (1 + step) / (10 + step))        (TF's ExponentialMovingAverage with
//   ema <- decay * ema + (1 - decay) * param                       num_updates; diffusers' EMAModel)
// Early on the decay is small, so the average forgets the random initialisation quickly; later it
// approaches max_decay (0.9999 in DDPM) and averages over ~1 / (1 - max_decay) steps.
#pragma once

#include <cstdint>

#include <torch/nn.h>

namespace dm::nn {

// step counts updates already done (0 for the first update).
double ema_decay(std::int64_t step, double max_decay);

// ema <- decay * ema + (1 - decay) * model, parameter by parameter; buffers are copied.
// Both modules must have the same architecture. No autograd.
void ema_update(torch::nn::Module& ema, const torch::nn::Module& model, double decay);

}  // namespace dm::nn
