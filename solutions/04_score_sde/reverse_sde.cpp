// Exercise 04.4: one Euler-Maruyama step of the reverse-time SDE.
#include <cmath>

#include "04_score_sde/steps.hpp"
#include "dm/todo.hpp"

namespace dm::ch04 {

// ANCHOR: reverse_sde_step
torch::Tensor reverse_sde_step(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t, double h,
                               const torch::Tensor& z) {
  // BEGIN SOLUTION 04.4
  const double beta = sde.beta(t);                          // g(t)^2
  const auto drift = -0.5 * beta * x - beta * score(x, t);  // f - g^2 score: the reverse drift, in forward time
  return x - h * drift + std::sqrt(beta * h) * z;           // a step of -h in time, noise of variance g^2 h
  // BEGIN STUB
  // // f(x, t) = -beta(t) x / 2 and g(t)^2 = beta(t) (sde.hpp); time goes from t to t - h, with h > 0
  // DM_TODO("04.4");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: reverse_sde_step

}  // namespace dm::ch04
