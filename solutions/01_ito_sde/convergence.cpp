#include "01_ito_sde/convergence.hpp"

#include <cmath>
#include <stdexcept>

#include "dm/todo.hpp"

namespace dm::ch01 {

// ANCHOR: gbm_em_errors
ConvergenceErrors gbm_em_errors(const Gbm& gbm, const Eigen::ArrayXXd& z, int n_steps) {
  const Eigen::Index n_fine = z.cols();
  if (n_steps < 1 || n_fine % n_steps != 0)
    throw std::invalid_argument("gbm_em_errors: n_steps must divide the number of fine steps");
  // BEGIN SOLUTION 01.5
  const Eigen::Index r = n_fine / n_steps;  // fine increments per coarse step
  const double h = gbm.T / n_steps;
  const double sqrt_dt_fine = std::sqrt(gbm.T / static_cast<double>(n_fine));
  Eigen::ArrayXd x = Eigen::ArrayXd::Constant(z.rows(), gbm.x0);  // [n_paths]
  Eigen::ArrayXd w = Eigen::ArrayXd::Zero(z.rows());              // W_t, [n_paths]
  for (int k = 0; k < n_steps; ++k) {
    const Eigen::ArrayXd dw = sqrt_dt_fine * z.middleCols(k * r, r).rowwise().sum();  // [n_paths]
    x += gbm.lambda * x * h + gbm.sigma * x * dw;  // Euler-Maruyama, coefficients at the left end
    w += dw;
  }
  const Eigen::ArrayXd exact = gbm.x0 * ((gbm.lambda - 0.5 * gbm.sigma * gbm.sigma) * gbm.T + gbm.sigma * w).exp();
  return {h, (x - exact).abs().mean(), std::abs(x.mean() - exact.mean())};
  // END SOLUTION
}
// ANCHOR_END: gbm_em_errors

// ANCHOR: loglog_slope
double loglog_slope(const std::vector<double>& h, const std::vector<double>& err) {
  if (h.size() != err.size() || h.size() < 2)
    throw std::invalid_argument("loglog_slope: h and err need the same size >= 2");
  // BEGIN SOLUTION 01.5
  const double n = static_cast<double>(h.size());
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < h.size(); ++i) {
    mx += std::log(h[i]) / n;
    my += std::log(err[i]) / n;
  }
  double sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < h.size(); ++i) {
    const double dx = std::log(h[i]) - mx;
    sxy += dx * (std::log(err[i]) - my);
    sxx += dx * dx;
  }
  return sxy / sxx;
  // END SOLUTION
}
// ANCHOR_END: loglog_slope

}  // namespace dm::ch01
