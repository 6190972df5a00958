// The four samplers as loops over the exercise steps (04.3-04.5).
#include "04_score_sde/samplers.hpp"

#include <algorithm>
#include <stdexcept>

#include "04_score_sde/steps.hpp"

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

// ANCHOR: run_sampler
torch::Tensor run_sampler(Sampler sampler, const VpSde& sde, const ScoreFn& score, const torch::Tensor& x1,
                          const SamplerOptions& opt, torch::Generator gen, std::vector<torch::Tensor>* path) {
  const auto g = gen.defined() ? c10::optional<torch::Generator>(gen) : c10::nullopt;
  auto noise = [&](const torch::Tensor& x) { return torch::randn(x.sizes(), g, x.options()); };
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
          const auto s = score(x, level), z = noise(x);
          x = langevin_step(x, s, langevin_step_size(s, z, opt.langevin_snr), z);
        }
        break;
      }
      case Sampler::ReverseSde:
        x = reverse_sde_step(sde, score, x, t, h, noise(x));
        break;
      case Sampler::PfOdeEuler:
        x = pf_ode_euler_step(sde, score, x, t, h);
        break;
      case Sampler::PfOdeHeun:
        x = pf_ode_heun_step(sde, score, x, t, h);
        break;
    }
    if (path && ((opt.keep_every > 0 && (k + 1) % opt.keep_every == 0) || k + 1 == N)) path->push_back(x);
  }
  return x;
}
// ANCHOR_END: run_sampler

}  // namespace dm::ch04
