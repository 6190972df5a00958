// Exercise 04.3: a Langevin step and its step size.
#include <cmath>

#include "04_score_sde/steps.hpp"
#include "dm/todo.hpp"

namespace dm::ch04 {

// ANCHOR: langevin_step
torch::Tensor langevin_step(const torch::Tensor& x, const torch::Tensor& score_x, double delta,
                            const torch::Tensor& z) {
  // drift up the log-density by delta / 2 times the score, plus noise of variance delta
  DM_TODO("04.3");
}
// ANCHOR_END: langevin_step

// ANCHOR: langevin_step_size
double langevin_step_size(const torch::Tensor& score_x, const torch::Tensor& z, double r) {
  // norms of each row ([n, d] -> [n]), averaged over the batch; then 2 (r |z| / |score|)^2
  DM_TODO("04.3");
}
// ANCHOR_END: langevin_step_size

}  // namespace dm::ch04
