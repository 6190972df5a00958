#include "01_ito_sde/euler_maruyama.hpp"

#include <cmath>

#include "dm/todo.hpp"

namespace dm::ch01 {

// ANCHOR: euler_maruyama
Eigen::ArrayXXd euler_maruyama(const Coefficient& mu, const Coefficient& sigma, const Eigen::ArrayXd& x0, double t0,
                               double dt, const Eigen::ArrayXXd& z) {
  // BEGIN SOLUTION 01.2
  const Eigen::Index n_steps = z.cols();
  Eigen::ArrayXXd x(x0.size(), n_steps + 1);  // [n_paths, n_steps + 1]
  x.col(0) = x0;
  const double sqrt_dt = std::sqrt(dt);
  for (Eigen::Index k = 0; k < n_steps; ++k) {
    const double t = t0 + static_cast<double>(k) * dt;  // left end of the step
    const Eigen::ArrayXd xk = x.col(k);
    x.col(k + 1) = xk + mu(xk, t) * dt + sigma(xk, t) * (sqrt_dt * z.col(k));
  }
  return x;
  // END SOLUTION
}
// ANCHOR_END: euler_maruyama

}  // namespace dm::ch01
