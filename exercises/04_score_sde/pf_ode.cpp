// Exercise 04.5: the probability-flow ODE, its velocity, and Euler and Heun steps.
#include "04_score_sde/steps.hpp"
#include "dm/todo.hpp"

namespace dm::ch04 {

// ANCHOR: pf_ode_velocity
torch::Tensor pf_ode_velocity(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t) {
  // f - (1/2) g^2 score with f = -beta x / 2, g^2 = beta
  DM_TODO("04.5");
}
// ANCHOR_END: pf_ode_velocity

// ANCHOR: pf_ode_steps
torch::Tensor pf_ode_euler_step(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t, double h) {
  DM_TODO("04.5");
}

torch::Tensor pf_ode_heun_step(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t, double h) {
  // an Euler step to t - h, the velocity there, then one step with the average of the two velocities
  DM_TODO("04.5");
}
// ANCHOR_END: pf_ode_steps

}  // namespace dm::ch04
