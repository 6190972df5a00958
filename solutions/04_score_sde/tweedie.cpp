// Exercise 04.2: Tweedie's formula, and the mixture's posterior mean by Bayes.
#include "04_score_sde/tweedie.hpp"

#include <cmath>

#include "dm/todo.hpp"

namespace dm::ch04 {

// ANCHOR: tweedie_x0
torch::Tensor tweedie_x0(const torch::Tensor& xt, const torch::Tensor& score, double alpha_bar) {
  // BEGIN SOLUTION 04.2
  return (xt + (1 - alpha_bar) * score) / std::sqrt(alpha_bar);
  // BEGIN STUB
  // // [n, d] in xt's dtype: the boxed identity of lesson 04, section 3
  // DM_TODO("04.2");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: tweedie_x0

// ANCHOR: mixture_posterior_mean
torch::Tensor mixture_posterior_mean(const GaussianMixture2D& gm, const torch::Tensor& xt, double alpha_bar) {
  // BEGIN SOLUTION 04.2
  const double a = std::sqrt(alpha_bar);
  const auto x = xt.to(torch::kFloat64);                                            // [n, 2]
  const auto mu = gm.means.to(x.device()), var0 = gm.stds.to(x.device()).square();  // [K, 2], [K]
  const auto var_t = alpha_bar * var0 + (1 - alpha_bar);    // [K] variance of component k in p_t
  const auto resid = x.unsqueeze(1) - a * mu.unsqueeze(0);  // [n, K, 2] x_t - a mu_k
  // log w_k + log N(x_t; a mu_k, var_t I) in 2-D, then normalise over k
  const auto log_joint = gm.weights.to(x.device()).log().unsqueeze(0) -
                         resid.square().sum(-1) / (2 * var_t).unsqueeze(0) -
                         (2 * M_PI * var_t).log().unsqueeze(0);                  // [n, K]
  const auto r = torch::softmax(log_joint, /*dim=*/1);                           // [n, K]
  const auto m = mu.unsqueeze(0) + (a * var0 / var_t).view({1, -1, 1}) * resid;  // [n, K, 2]
  return (r.unsqueeze(2) * m).sum(/*dim=*/1).to(xt.scalar_type());               // [n, 2]
  // BEGIN STUB
  // // in float64: responsibilities r [n, K] (normalised over k in log space), component means m [n, K, 2]
  // DM_TODO("04.2");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: mixture_posterior_mean

}  // namespace dm::ch04
