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
  // BEGIN SOLUTION 04.7
  // steps of the time grid: one score evaluation per step, two for Heun, m per Langevin level
  const std::int64_t per_step = sampler == Sampler::PfOdeHeun ? 2 : sampler == Sampler::Langevin ? opt.langevin_m : 1;
  const std::int64_t N = std::max<std::int64_t>(1, opt.nfe / per_step);
  const double h = (1.0 - opt.t_min) / double(N);
  auto x = x1;
  if (path) path->push_back(x);
  for (std::int64_t k = 0; k < N; ++k) {
    const double t = 1.0 - double(k) * h;  // from t to t - h
    switch (sampler) {
      case Sampler::Langevin: {  // m corrector steps at the level we are moving to
        const double level = t - h;
        for (std::int64_t j = 0; j < opt.langevin_m; ++j) {
          const auto s = score(x, level), z = draw(x);
          x = steps.langevin_step(x, s, steps.langevin_step_size(s, z, opt.langevin_snr), z);
        }
        break;
      }
      case Sampler::ReverseSde:
        x = steps.reverse_sde_step(sde, score, x, t, h, draw(x));
        break;
      case Sampler::PfOdeEuler:
        x = steps.pf_ode_euler_step(sde, score, x, t, h);
        break;
      case Sampler::PfOdeHeun:
        x = steps.pf_ode_heun_step(sde, score, x, t, h);
        break;
    }
    if (path && ((opt.keep_every > 0 && (k + 1) % opt.keep_every == 0) || k + 1 == N)) path->push_back(x);
  }
  return x;
  // END SOLUTION
}
// ANCHOR_END: run_sampler

}  // namespace dm::ch04
