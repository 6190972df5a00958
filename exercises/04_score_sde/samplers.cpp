// Exercise 04.7: the four samplers as one loop over the time grid, from their steps (04.3-04.5).
#include "04_score_sde/samplers.hpp"

#include <algorithm>
#include <stdexcept>

#include "04_score_sde/steps.hpp"
#include "dm/todo.hpp"

namespace dm::ch04 {

const char* sampler_name(Sampler s) {
  switch (s) {
    case Sampler::Langevin:
      return "langevin";
    case Sampler::ReverseSde:
      return "reverse_sde";
    case Sampler::PfOdeEuler:
      return "pf_ode_euler";
    case Sampler::PfOdeHeun:
      return "pf_ode_heun";
  }
  return "?";
}

SamplerSteps exercise_steps() {
  SamplerSteps s;
  s.langevin_step = langevin_step;
  s.langevin_step_size = langevin_step_size;
  s.reverse_sde_step = reverse_sde_step;
  s.pf_ode_euler_step = pf_ode_euler_step;
  s.pf_ode_heun_step = pf_ode_heun_step;
  return s;
}

NoiseFn torch_noise(torch::Generator gen) {
  const auto g = gen.defined() ? c10::optional<torch::Generator>(gen) : c10::nullopt;
  return [g](const torch::Tensor& x) { return torch::randn(x.sizes(), g, x.options()); };
}

// ANCHOR: run_sampler
torch::Tensor run_sampler(Sampler sampler, const SamplerSteps& steps, const VpSde& sde, const ScoreFn& score,
                          const torch::Tensor& x1, const SamplerOptions& opt, const NoiseFn& noise,
                          std::vector<torch::Tensor>* path) {
  TORCH_CHECK(x1.dim() == 2, "run_sampler: x1 must be [n, 2], got ", x1.sizes());
  TORCH_CHECK(opt.nfe >= 1, "run_sampler: nfe must be >= 1, got ", opt.nfe);
  TORCH_CHECK(opt.t_min >= 0 && opt.t_min < 1, "run_sampler: t_min must be in [0, 1), got ", opt.t_min);
  TORCH_CHECK(sampler != Sampler::Langevin || opt.langevin_m >= 1, "run_sampler: langevin_m must be >= 1");
  const NoiseFn draw = noise ? noise : torch_noise();  // draw(x): fresh N(0, I) noise of x's shape
  torch::NoGradGuard no_grad;
  DM_TODO("04.7");
}
// ANCHOR_END: run_sampler

}  // namespace dm::ch04
