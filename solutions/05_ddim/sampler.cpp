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
  // BEGIN SOLUTION 05.3
  auto x = x_T;
  const auto B = x.size(0);
  for (std::size_t i = 0; i < ts.size(); ++i) {
    const double ab_t = alpha_bar_at(alpha_bar, ts[i]);
    const double ab_prev = alpha_bar_at(alpha_bar, t_prev[i], opt.final_alpha_bar);
    auto eps = eps_fn(x, torch::full({B}, ts[i], torch::TensorOptions().dtype(torch::kLong).device(x.device())));
    torch::Tensor z;  // drawn only when this step adds noise
    if (parts.sigma(ab_t, ab_prev, opt.eta) > 0) z = noise_fn ? noise_fn(x, std::int64_t(i)) : torch::randn_like(x);
    auto step = parts.step(x, eps, ab_t, ab_prev, opt.eta, z);
    x = step.x_prev;
    if (on_step) on_step(std::int64_t(i), ts[i], x, step.x0_hat);
  }
  return x;
  // BEGIN STUB
  // auto x = x_T;
  // DM_TODO("05.3");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: ddim_sample

}  // namespace dm::ch05
