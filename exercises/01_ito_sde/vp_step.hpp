// One step of the VP-SDE: the exact transition against DDPM's approximation.
//
// Over a step whose integrated rate is beta = int beta(u) du (for DDPM's discrete
// chain: beta_i), both updates have the form
//   x' = signal * x + noise * z,   z ~ N(0, 1).
#pragma once

#include <Eigen/Core>

namespace dm::ch01 {

struct StepCoefficients {
  double signal = 0;  // multiplies x
  double noise = 0;   // multiplies z ~ N(0, 1)
};

// The exact transition of dx = -1/2 beta(t) x dt + sqrt(beta(t)) dW over the step, started
// from a fixed x (beta >= 0 is the step's integrated rate; lesson 01, "4. The exact step
// against DDPM's step").
StepCoefficients exact_step_coefficients(double beta);

// DDPM's forward step (Ho et al. 2020) whose added noise has variance beta, 0 <= beta <= 1
// (lesson 01, "4. The exact step against DDPM's step").
StepCoefficients ddpm_step_coefficients(double beta);

// x' = c.signal x + c.noise z for every path:  x, z [n_paths] -> [n_paths].
inline Eigen::ArrayXd apply_step(const StepCoefficients& c, const Eigen::ArrayXd& x, const Eigen::ArrayXd& z) {
  return c.signal * x + c.noise * z;
}

}  // namespace dm::ch01
