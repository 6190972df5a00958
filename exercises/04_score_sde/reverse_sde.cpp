// Exercise 04.4: one Euler-Maruyama step of the reverse-time SDE.
#include <cmath>

#include "04_score_sde/steps.hpp"
#include "dm/todo.hpp"

namespace dm::ch04 {

// ANCHOR: reverse_sde_step
torch::Tensor reverse_sde_step(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t, double h,
                               const torch::Tensor& z) {
  // f(x, t) = -beta(t) x / 2 and g(t)^2 = beta(t) (sde.hpp); time goes from t to t - h, with h > 0
  DM_TODO("04.4");
}
// ANCHOR_END: reverse_sde_step

}  // namespace dm::ch04
