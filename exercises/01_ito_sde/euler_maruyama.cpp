#include "01_ito_sde/euler_maruyama.hpp"

#include <cmath>

#include "dm/todo.hpp"

namespace dm::ch01 {

// ANCHOR: euler_maruyama
Eigen::ArrayXXd euler_maruyama(const Coefficient& mu, const Coefficient& sigma, const Eigen::ArrayXd& x0, double t0,
                               double dt, const Eigen::ArrayXXd& z) {
  DM_TODO("01.2");
}
// ANCHOR_END: euler_maruyama

}  // namespace dm::ch01
