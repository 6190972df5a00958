// Brownian motion (the Wiener process W_t) sampled on a uniform time grid.
//
// Layout used throughout chapter 01: many independent paths side by side,
//   paths [n_paths, n_times]   row p = one path, column k = every path at t_k,
// so one column is one time step of all paths (Eigen is column-major: a column
// is contiguous and a step is one vectorised expression).
#pragma once

#include <Eigen/Core>

namespace dm::ch01 {

// W at the times 0, dt, 2 dt, ..., n_steps dt of n_paths independent paths, from
// standard normal numbers z (one per path and step). On the grid the result has the Wiener
// process's law: W_0 = 0 and independent Gaussian increments of variance dt
// (lesson 01, "1. Brownian motion").
//   z    [n_paths, n_steps]  i.i.d. N(0, 1); column k makes the k-th increment (t_k to t_{k+1})
//   dt   > 0, the time step
// returns [n_paths, n_steps + 1]; column 0 is all zeros, column k is W at t_k = k dt.
Eigen::ArrayXXd brownian_paths(const Eigen::ArrayXXd& z, double dt);

}  // namespace dm::ch01
