// Exercise 04.3: a Langevin step and its step size.
#include <cmath>

#include "04_score_sde/steps.hpp"
#include "dm/todo.hpp"

namespace dm::ch04 {

// ANCHOR: langevin_step
torch::Tensor langevin_step(const torch::Tensor& x, const torch::Tensor& score_x, double delta,
                            const torch::Tensor& z) {
  // [n, 2]: one step of the lesson's Langevin chain; the noise it injects has variance delta
  DM_TODO("04.3");
}
// ANCHOR_END: langevin_step

// ANCHOR: langevin_step_size
double langevin_step_size(const torch::Tensor& score_x, const torch::Tensor& z, double r) {
  // norms of each row ([n, d] -> [n]), averaged over the batch, for z and for the score; then the lesson's rule
  DM_TODO("04.3");
}
// ANCHOR_END: langevin_step_size

}  // namespace dm::ch04
