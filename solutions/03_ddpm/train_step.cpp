// Exercise 03.6: one training step of DDPM's Algorithm 1, from its parts.
#include <cmath>

#include "03_ddpm/algorithms.hpp"
#include "dm/todo.hpp"

namespace dm::ch03 {

// ANCHOR: train_step
TrainStepResult train_step(const TrainStepParts& parts, const Schedule& s, const torch::Tensor& x0, std::int64_t step,
                           double max_grad_norm) {
  TORCH_CHECK(max_grad_norm > 0, "train_step: max_grad_norm must be > 0, got ", max_grad_norm);
  TORCH_CHECK(x0.dim() >= 1 && x0.size(0) > 0, "train_step: x0 must be a non-empty batch, got ", x0.sizes());
  TrainStepResult result;
  // BEGIN SOLUTION 03.6
  auto t = parts.draws.timesteps(x0.size(0), s.T());  // [B] int64, uniform in 0..T-1
  auto eps = parts.draws.noise(x0);                   // [B, C, H, W] ~ N(0, I)
  parts.zero_grad();                                  // fresh gradients: backward() accumulates
  auto loss = parts.loss(s, parts.eps_theta, x0, t, eps);
  result.loss = loss.item<double>();
  if (!std::isfinite(result.loss)) return result;  // nothing updated: the caller keeps its checkpoint
  loss.backward();
  // the global norm: every gradient of every parameter as one vector
  auto squares = torch::zeros({}, torch::kFloat64);
  for (const auto& p : parts.params)
    if (p.grad().defined()) squares = squares + p.grad().to(torch::kFloat64).pow(2).sum().cpu();
  result.grad_norm = std::sqrt(squares.item<double>());
  const double scale = max_grad_norm / (result.grad_norm + 1e-6);  // torch's clip_grad_norm_ rule
  if (scale < 1)
    for (const auto& p : parts.params)
      if (p.grad().defined()) p.grad().mul_(scale);
  parts.optimizer_step();
  parts.update_ema(step);  // after the update: the average follows the new weights
  result.stepped = true;
  // END SOLUTION
  return result;
}
// ANCHOR_END: train_step

}  // namespace dm::ch03
