// Exercise 04.2: Tweedie's formula, and the mixture's posterior mean by Bayes.
#include "04_score_sde/tweedie.hpp"

#include <cmath>

#include "dm/todo.hpp"

namespace dm::ch04 {

// ANCHOR: tweedie_x0
torch::Tensor tweedie_x0(const torch::Tensor& xt, const torch::Tensor& score, double alpha_bar) {
  // one step along the score, of length (1 - alpha_bar), then undo the shrinking by sqrt(alpha_bar)
  DM_TODO("04.2");
}
// ANCHOR_END: tweedie_x0

// ANCHOR: mixture_posterior_mean
torch::Tensor mixture_posterior_mean(const GaussianMixture2D& gm, const torch::Tensor& xt, double alpha_bar) {
  // responsibilities r [n, K] (softmax of log w_k + log N(x_t; a mu_k, var_t I)), means m [n, K, 2]
  DM_TODO("04.2");
}
// ANCHOR_END: mixture_posterior_mean

}  // namespace dm::ch04
