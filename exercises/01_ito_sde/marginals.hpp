// Closed-form marginals of two linear SDEs: the distribution of X_t given X_0 = x0
// is Gaussian, and its mean and variance follow from the linear SDE's solution
// (derived in lesson 01, "3. Moments of linear SDEs: Ornstein–Uhlenbeck and the VP-SDE").
#pragma once

namespace dm::ch01 {

struct MeanVar {
  double mean = 0;
  double var = 0;
};

// The Ornstein-Uhlenbeck process  dX = theta (mu - X) dt + sigma dW:
// pulled towards mu at rate theta > 0, shaken with strength sigma.
struct OuProcess {
  double theta = 2.0;  // mean-reversion rate (1/time)
  double mu = 1.0;     // long-run mean
  double sigma = 0.8;  // noise strength
};

// The VP-SDE of Song et al. (2021),  dx = -1/2 beta(t) x dt + sqrt(beta(t)) dW,  t in [0, 1],
// with beta(t) rising linearly from beta_min at t = 0 to beta_max at t = 1.
struct VpSde {
  double beta_min = 0.1;
  double beta_max = 20.0;
  double beta(double t) const { return beta_min + t * (beta_max - beta_min); }
};

// The integrated rate  B(s, t) = int_s^t beta(u) du  of the linear schedule (s <= t).
double vp_int_beta(const VpSde& sde, double s, double t);

// Mean and variance of X_t given X_0 = x0 (t >= 0) for the OU process.
MeanVar ou_marginal(const OuProcess& ou, double x0, double t);

// Mean and variance of x_t given x_0 = x0 (0 <= t <= 1) for the VP-SDE.
MeanVar vp_marginal(const VpSde& sde, double x0, double t);

}  // namespace dm::ch01
