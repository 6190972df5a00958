#include "01_ito_sde/brownian.hpp"

#include <cmath>

#include "dm/todo.hpp"

namespace dm::ch01 {

// ANCHOR: brownian_paths
Eigen::ArrayXXd brownian_paths(const Eigen::ArrayXXd& z, double dt) {
  // BEGIN SOLUTION 01.1
  const Eigen::Index n_paths = z.rows(), n_steps = z.cols();
  Eigen::ArrayXXd w(n_paths, n_steps + 1);  // [n_paths, n_steps + 1]
  w.col(0).setZero();                       // W_0 = 0
  const double sqrt_dt = std::sqrt(dt);     // the increment's standard deviation, not dt
  for (Eigen::Index k = 0; k < n_steps; ++k) w.col(k + 1) = w.col(k) + sqrt_dt * z.col(k);
  return w;
  // BEGIN STUB
  // // [n_paths, n_steps + 1]: column 0 is W_0 = 0, column k + 1 adds the k-th increment
  // DM_TODO("01.1");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: brownian_paths

}  // namespace dm::ch01
