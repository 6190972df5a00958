// Exercise 03.7: the ancestral sampler of DDPM's Algorithm 2, from its parts.
#include "03_ddpm/algorithms.hpp"
#include "dm/todo.hpp"

namespace dm::ch03 {

// ANCHOR: p_sample_loop
torch::Tensor p_sample_loop(const EpsModel& eps_theta, const ReverseStepFn& step, std::int64_t T,
                            const torch::Tensor& x_T, const StepNoiseFn& noise, const SampleCallback& on_step) {
  TORCH_CHECK(T >= 1, "p_sample_loop: T must be >= 1, got ", T);
  TORCH_CHECK(x_T.dim() >= 1, "p_sample_loop: x_T must be a batch [B, ...], got ", x_T.sizes());
  torch::NoGradGuard no_grad;
  DM_TODO("03.7");
}
// ANCHOR_END: p_sample_loop

}  // namespace dm::ch03
