// Exercise 03.3: one ancestral reverse step (Algorithm 2 of Ho et al. 2020).
#include <cmath>

#include "03_ddpm/ddpm.hpp"
#include "dm/todo.hpp"

namespace dm::ch03 {

// ANCHOR: p_sample
ReverseStep p_sample(const Schedule& s, const torch::Tensor& x_t, std::int64_t t, const torch::Tensor& eps,
                     const torch::Tensor& z, Variance variance, bool clip_x0) {
  TORCH_CHECK(t >= 0 && t < s.T(), "p_sample: t = ", t, " is outside 0..", s.T() - 1);
  // read beta_t, alpha_bar_t and alpha_bar_{t-1} (1 at t = 0) as doubles: s.beta[t].item<double>()
  DM_TODO("03.3");
}
// ANCHOR_END: p_sample

}  // namespace dm::ch03
