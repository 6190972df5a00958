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
  DM_TODO("01.5");
}
// ANCHOR_END: gbm_em_errors

// ANCHOR: loglog_slope
double loglog_slope(const std::vector<double>& h, const std::vector<double>& err) {
  if (h.size() != err.size() || h.size() < 2)
    throw std::invalid_argument("loglog_slope: h and err need the same size >= 2");
  DM_TODO("01.5");
}
// ANCHOR_END: loglog_slope

}  // namespace dm::ch01
