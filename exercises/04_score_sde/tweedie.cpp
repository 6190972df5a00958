// Exercise 04.2: Tweedie's formula, and the mixture's posterior mean by Bayes.
#include "04_score_sde/tweedie.hpp"

#include <cmath>

#include "dm/todo.hpp"

namespace dm::ch04 {

// ANCHOR: tweedie_x0
torch::Tensor tweedie_x0(const torch::Tensor& xt, const torch::Tensor& score, double alpha_bar) {
  // [n, d] in xt's dtype: the boxed identity of lesson 04, section 3
  DM_TODO("04.2");
}
// ANCHOR_END: tweedie_x0

// ANCHOR: mixture_posterior_mean
torch::Tensor mixture_posterior_mean(const GaussianMixture2D& gm, const torch::Tensor& xt, double alpha_bar) {
  // in float64: responsibilities r [n, K] (normalised over k in log space), component means m [n, K, 2]
  DM_TODO("04.2");
}
// ANCHOR_END: mixture_posterior_mean

}  // namespace dm::ch04
