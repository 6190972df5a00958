// Exercise 04.5: the probability-flow ODE, its velocity, and Euler and Heun steps.
#include "04_score_sde/steps.hpp"
#include "dm/todo.hpp"

namespace dm::ch04 {

// ANCHOR: pf_ode_velocity
torch::Tensor pf_ode_velocity(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t) {
  // BEGIN SOLUTION 04.5
  return -0.5 * sde.beta(t) * (x + score(x, t));  // f - 1/2 g^2 score
  // BEGIN STUB
  // // [n, 2]: the lesson's velocity for the VP-SDE's f(x, t) = -beta(t) x / 2 and g(t)^2 = beta(t)
  // DM_TODO("04.5");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: pf_ode_velocity

// ANCHOR: pf_ode_steps
torch::Tensor pf_ode_euler_step(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t, double h) {
  // BEGIN SOLUTION 04.5
  return x - h * pf_ode_velocity(sde, score, x, t);
  // BEGIN STUB
  // DM_TODO("04.5");
  // END STUB
  // END SOLUTION
}

torch::Tensor pf_ode_heun_step(const VpSde& sde, const ScoreFn& score, const torch::Tensor& x, double t, double h) {
  // BEGIN SOLUTION 04.5
  const auto v1 = pf_ode_velocity(sde, score, x, t);            // slope at the start
  const auto x_euler = x - h * v1;                              // Euler's guess at t - h
  const auto v2 = pf_ode_velocity(sde, score, x_euler, t - h);  // slope at the end
  return x - 0.5 * h * (v1 + v2);                               // the average slope
  // BEGIN STUB
  // // second order: two velocity evaluations, the second one at time t - h
  // DM_TODO("04.5");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: pf_ode_steps

}  // namespace dm::ch04
