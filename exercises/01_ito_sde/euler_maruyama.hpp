// Euler-Maruyama for the Ito SDE  dX = mu(X, t) dt + sigma(X, t) dW,
// many independent (scalar) paths at once.
#pragma once

#include <Eigen/Core>
#include <functional>

namespace dm::ch01 {

// A drift mu(x, t) or a diffusion sigma(x, t), evaluated for all paths at once:
//   x [n_paths] the current states, t the current time; returns [n_paths].
using Coefficient = std::function<Eigen::ArrayXd(const Eigen::ArrayXd& x, double t)>;

// Euler-Maruyama on the grid t_k = t0 + k dt, k = 0..n_steps: the scheme that freezes both
// coefficients over each step, with the step's Brownian increment made from z
// (lesson 01, "2. Itô SDEs and Euler–Maruyama"). Both coefficients are evaluated at the
// left end (X_k, t_k) of the step: that is what makes it the Ito (not Stratonovich) solution.
//   mu, sigma  the coefficients (see Coefficient)
//   x0         [n_paths] starting states
//   t0         the starting time;  dt > 0 the step
//   z          [n_paths, n_steps] i.i.d. N(0, 1); column k drives step k
// returns [n_paths, n_steps + 1]; column 0 is x0, column k is X at t_k.
Eigen::ArrayXXd euler_maruyama(const Coefficient& mu, const Coefficient& sigma, const Eigen::ArrayXd& x0, double t0,
                               double dt, const Eigen::ArrayXXd& z);

}  // namespace dm::ch01
