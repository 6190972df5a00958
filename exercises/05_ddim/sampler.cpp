// Exercise 05.3: the DDIM sampler loop.
#include "05_ddim/ddim.hpp"
#include "dm/todo.hpp"

namespace dm::ch05 {

// ANCHOR: ddim_sample
torch::Tensor ddim_sample(const EpsFn& eps_fn, const torch::Tensor& alpha_bar, const torch::Tensor& x_T,
                          const DdimOptions& opt, const NoiseFn& noise_fn, const StepCallback& on_step) {
  torch::NoGradGuard no_grad;
  const auto ts = ddim_timesteps(alpha_bar.size(0), opt.steps, opt.spacing, opt.offset);
  const auto t_prev = previous_timesteps(ts);
  auto x = x_T;
  DM_TODO("05.3");
}
// ANCHOR_END: ddim_sample

}  // namespace dm::ch05
