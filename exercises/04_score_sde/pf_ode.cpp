// Exercise 04.5: the probability-flow ODE, its velocity, and Euler and Heun steps.
#include "04_score_sde/steps.hpp"
#include "dm/todo.hpp"

namespace dm::ch04 {

// ANCHOR: pf_ode_velocity
torch::Tensor pf_ode_velocity(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t) {
  // [n, 2]: the lesson's velocity for the VP-SDE's f(x, t) = -beta(t) x / 2 and g(t)^2 = beta(t)
  DM_TODO("04.5");
}
// ANCHOR_END: pf_ode_velocity

// ANCHOR: pf_ode_steps
torch::Tensor pf_ode_euler_step(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t, double h) {
  DM_TODO("04.5");
}

torch::Tensor pf_ode_heun_step(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t, double h) {
  // second order: two velocity evaluations, the second one at time t - h
  DM_TODO("04.5");
}
// ANCHOR_END: pf_ode_steps

}  // namespace dm::ch04
