#include "01_ito_sde/marginals.hpp"

#include <cmath>

#include "dm/todo.hpp"

namespace dm::ch01 {

// ANCHOR: vp_int_beta
double vp_int_beta(const VpSde& sde, double s, double t) {
  // BEGIN SOLUTION 01.3
  // int_s^t (b0 + u (b1 - b0)) du = b0 (t - s) + (b1 - b0) (t^2 - s^2) / 2
  return sde.beta_min * (t - s) + 0.5 * (sde.beta_max - sde.beta_min) * (t * t - s * s);
  // BEGIN STUB
  // // the area under the straight line beta(u) between s and t
  // DM_TODO("01.3");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: vp_int_beta

// ANCHOR: ou_marginal
MeanVar ou_marginal(const OuProcess& ou, double x0, double t) {
  // BEGIN SOLUTION 01.3
  // X_t = mu + (x0 - mu) e^{-theta t} + sigma int_0^t e^{-theta (t - s)} dW_s
  const double decay = std::exp(-ou.theta * t);
  return {ou.mu + (x0 - ou.mu) * decay,
          ou.sigma * ou.sigma / (2.0 * ou.theta) * (1.0 - decay * decay)};  // Ito isometry
  // BEGIN STUB
  // // {mean, var}: the mean relaxes to mu, the variance to its stationary value
  // DM_TODO("01.3");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: ou_marginal

// ANCHOR: vp_marginal
MeanVar vp_marginal(const VpSde& sde, double x0, double t) {
  // BEGIN SOLUTION 01.3
  // x_t = x0 e^{-B/2} + int_0^t e^{-(B(0,t) - B(0,s))/2} sqrt(beta(s)) dW_s,  B = B(0, t)
  const double big_b = vp_int_beta(sde, 0.0, t);
  return {x0 * std::exp(-0.5 * big_b), 1.0 - std::exp(-big_b)};
  // BEGIN STUB
  // // {mean, var} from B = vp_int_beta(sde, 0, t)
  // DM_TODO("01.3");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: vp_marginal

}  // namespace dm::ch01
