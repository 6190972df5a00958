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
  DM_TODO("03.6");
  return result;
}
// ANCHOR_END: train_step

}  // namespace dm::ch03
