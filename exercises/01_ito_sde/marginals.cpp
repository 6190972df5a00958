#include "01_ito_sde/marginals.hpp"

#include <cmath>

#include "dm/todo.hpp"

namespace dm::ch01 {

// ANCHOR: vp_int_beta
double vp_int_beta(const VpSde& sde, double s, double t) {
  // the area under the straight line beta(u) between s and t
  DM_TODO("01.3");
}
// ANCHOR_END: vp_int_beta

// ANCHOR: ou_marginal
MeanVar ou_marginal(const OuProcess& ou, double x0, double t) {
  // {mean, var}: the mean relaxes to mu, the variance to its stationary value
  DM_TODO("01.3");
}
// ANCHOR_END: ou_marginal

// ANCHOR: vp_marginal
MeanVar vp_marginal(const VpSde& sde, double x0, double t) {
  // {mean, var} from B = vp_int_beta(sde, 0, t)
  DM_TODO("01.3");
}
// ANCHOR_END: vp_marginal

}  // namespace dm::ch01
