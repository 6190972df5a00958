// Exercise 04.1: converting between eps, x0, v and score predictions.
#include "04_score_sde/param.hpp"

#include <stdexcept>

#include "dm/todo.hpp"

namespace dm::ch04 {

// ANCHOR: to_eps
torch::Tensor to_eps(Prediction kind, const torch::Tensor& pred, const torch::Tensor& xt,
                     const torch::Tensor& alpha_bar) {
  // a = sqrt(alpha_bar), s = sqrt(1 - alpha_bar) in xt's dtype; one case per kind, from its definition
  DM_TODO("04.1");
  throw std::invalid_argument("to_eps: unknown prediction kind");
}
// ANCHOR_END: to_eps

// ANCHOR: from_eps
torch::Tensor from_eps(Prediction kind, const torch::Tensor& eps, const torch::Tensor& xt,
                       const torch::Tensor& alpha_bar) {
  // the inverse of to_eps, kind by kind
  DM_TODO("04.1");
  throw std::invalid_argument("from_eps: unknown prediction kind");
}
// ANCHOR_END: from_eps

}  // namespace dm::ch04
