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
  // BEGIN SOLUTION 03.7
  auto x = x_T;
  for (std::int64_t t = T - 1; t >= 0; --t) {
    auto tt = torch::full({x.size(0)}, t, torch::TensorOptions().dtype(torch::kLong).device(x.device()));  // [B]
    auto eps = eps_theta(x, tt);
    auto z = noise(x, t);
    auto r = step(x, t, eps, z);
    x = r.x_prev;
    if (on_step) on_step(t, x, r.x0_hat);
  }
  return x;
  // END SOLUTION
}
// ANCHOR_END: p_sample_loop

}  // namespace dm::ch03
