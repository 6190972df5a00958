// Exercise 05.4: DDIM inversion, the eta = 0 ODE run from the data towards the noise.
#include <cmath>

#include "05_ddim/ddim.hpp"
#include "dm/todo.hpp"

namespace dm::ch05 {

// ANCHOR: ddim_invert
torch::Tensor ddim_invert(const DdimParts& parts, const EpsFn& eps_fn, const torch::Tensor& alpha_bar,
                          const torch::Tensor& x0, const DdimOptions& opt) {
  TORCH_CHECK(parts.timesteps && parts.previous_timesteps && parts.predict_x0,
              "ddim_invert: parts needs timesteps, previous_timesteps and predict_x0");
  torch::NoGradGuard no_grad;
  const auto ts = parts.timesteps(alpha_bar.size(0), opt.steps, opt.spacing, opt.offset);
  const auto t_prev = parts.previous_timesteps(ts);
  // BEGIN SOLUTION 05.4
  auto x = x0;
  const auto B = x.size(0);
  for (auto i = std::int64_t(ts.size()) - 1; i >= 0; --i) {  // the sampler's steps, last one first
    const auto k = static_cast<std::size_t>(i);
    const double ab_from = alpha_bar_at(alpha_bar, t_prev[k], opt.final_alpha_bar);
    const double ab_to = alpha_bar_at(alpha_bar, ts[k]);
    auto eps = eps_fn(x, torch::full({B}, ts[k], torch::TensorOptions().dtype(torch::kLong).device(x.device())));
    x = std::sqrt(ab_to) * parts.predict_x0(x, eps, ab_from) + std::sqrt(1 - ab_to) * eps;
  }
  return x;
  // BEGIN STUB
  // auto x = x0;
  // DM_TODO("05.4");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: ddim_invert

}  // namespace dm::ch05
