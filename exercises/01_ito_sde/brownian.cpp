#include "01_ito_sde/brownian.hpp"

#include <cmath>

#include "dm/todo.hpp"

namespace dm::ch01 {

// ANCHOR: brownian_paths
Eigen::ArrayXXd brownian_paths(const Eigen::ArrayXXd& z, double dt) {
  // [n_paths, n_steps + 1]: column 0 is W_0 = 0, column k + 1 adds the k-th increment
  DM_TODO("01.1");
}
// ANCHOR_END: brownian_paths

}  // namespace dm::ch01
