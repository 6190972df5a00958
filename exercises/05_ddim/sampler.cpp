// Exercise 05.3: the DDIM sampler loop, over the parts of 05.1 and 05.2.
#include "05_ddim/ddim.hpp"
#include "dm/todo.hpp"

namespace dm::ch05 {

DdimParts exercise_parts() {
  DdimParts p;
  p.timesteps = ddim_timesteps;
  p.previous_timesteps = previous_timesteps;
  p.sigma = ddim_sigma;
  p.predict_x0 = predict_x0;
  p.step = ddim_step;
  return p;
}

// ANCHOR: ddim_sample
torch::Tensor ddim_sample(const DdimParts& parts, const EpsFn& eps_fn, const torch::Tensor& alpha_bar,
                          const torch::Tensor& x_T, const DdimOptions& opt, const NoiseFn& noise_fn,
                          const StepCallback& on_step) {
  TORCH_CHECK(parts.timesteps && parts.previous_timesteps && parts.sigma && parts.step,
              "ddim_sample: parts needs timesteps, previous_timesteps, sigma and step");
  torch::NoGradGuard no_grad;
  const auto ts = parts.timesteps(alpha_bar.size(0), opt.steps, opt.spacing, opt.offset);
  const auto t_prev = parts.previous_timesteps(ts);
  auto x = x_T;
  DM_TODO("05.3");
}
// ANCHOR_END: ddim_sample

}  // namespace dm::ch05
