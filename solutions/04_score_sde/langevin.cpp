// Exercise 04.3: a Langevin step and its step size.
#include <cmath>

#include "04_score_sde/steps.hpp"
#include "dm/todo.hpp"

namespace dm::ch04 {

// ANCHOR: langevin_step
torch::Tensor langevin_step(const torch::Tensor& x, const torch::Tensor& score_x, double delta,
                            const torch::Tensor& z) {
  // BEGIN SOLUTION 04.3
  return x + 0.5 * delta * score_x + std::sqrt(delta) * z;
  // BEGIN STUB
  // // [n, 2]: one step of the lesson's Langevin chain; the noise it injects has variance delta
  // DM_TODO("04.3");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: langevin_step

// ANCHOR: langevin_step_size
double langevin_step_size(const torch::Tensor& score_x, const torch::Tensor& z, double r) {
  // BEGIN SOLUTION 04.3
  const double z_norm = z.flatten(1).norm(2, /*dim=*/1).mean().item<double>();        // mean |z|
  const double s_norm = score_x.flatten(1).norm(2, /*dim=*/1).mean().item<double>();  // mean |score|
  return 2 * std::pow(r * z_norm / s_norm, 2);
  // BEGIN STUB
  // // norms of each row ([n, d] -> [n]), averaged over the batch, for z and for the score; then the lesson's rule
  // DM_TODO("04.3");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: langevin_step_size

}  // namespace dm::ch04
