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
  auto x = x0;
  DM_TODO("05.4");
}
// ANCHOR_END: ddim_invert

}  // namespace dm::ch05
