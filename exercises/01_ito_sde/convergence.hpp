// Strong and weak convergence of Euler-Maruyama, measured on geometric Brownian
// motion (GBM)  dX = lambda X dt + sigma X dW, whose exact solution X_T on the same
// Brownian path is known in closed form as a function of W_T
// (lesson 01, "5. Strong and weak convergence").
#pragma once

#include <Eigen/Core>
#include <vector>

namespace dm::ch01 {

struct Gbm {
  double lambda = 1.0;  // growth rate (drift lambda X)
  double sigma = 0.8;   // volatility (diffusion sigma X)
  double x0 = 1.0;      // X_0
  double T = 1.0;       // the final time
};

struct ConvergenceErrors {
  double h = 0;       // the Euler-Maruyama step T / n_steps
  double strong = 0;  // E |X_N^EM - X_T|               (mean over the paths)
  double weak = 0;    // |E[X_N^EM] - E[X_T]|           (both means over the same paths)
};

// Euler-Maruyama with n_steps steps of h = T / n_steps against the exact X_T,
// both driven by the same Brownian path, given on a fine grid:
//   z        [n_paths, n_fine] i.i.d. N(0, 1); the fine increments are
//            dW_j = sqrt(T / n_fine) z_j, and W_T is their sum
//   n_steps  >= 1, must divide n_fine: one coarse increment is the sum of
//            n_fine / n_steps consecutive fine increments
// The weak error compares the two sample means over the same paths (common random
// numbers): their difference has far less Monte-Carlo noise than either mean alone.
ConvergenceErrors gbm_em_errors(const Gbm& gbm, const Eigen::ArrayXXd& z, int n_steps);

// The least-squares slope p of log(err) = p log(h) + c: the measured order of
// convergence.  h, err: the same size >= 2, all entries > 0.
double loglog_slope(const std::vector<double>& h, const std::vector<double>& err);

}  // namespace dm::ch01
