// Exercise 04.1: converting between eps, x0, v and score predictions.
#include "04_score_sde/param.hpp"

#include <stdexcept>

#include "dm/todo.hpp"

namespace dm::ch04 {

// ANCHOR: to_eps
torch::Tensor to_eps(Prediction kind, const torch::Tensor& pred, const torch::Tensor& xt,
                     const torch::Tensor& alpha_bar) {
  // BEGIN SOLUTION 04.1
  const auto a = alpha_bar.sqrt().to(xt.scalar_type());        // sqrt(alpha_bar)
  const auto s = (1 - alpha_bar).sqrt().to(xt.scalar_type());  // sqrt(1 - alpha_bar)
  switch (kind) {
    case Prediction::Eps:
      return pred;
    case Prediction::X0:
      return (xt - a * pred) / s;  // x_t = a x0 + s eps
    case Prediction::V:
      return a * pred + s * xt;  // a (a eps - s x0) + s (a x0 + s eps) = eps
    case Prediction::Score:
      return -s * pred;  // score = -eps / s
  }
  // BEGIN STUB
  // // a = sqrt(alpha_bar), s = sqrt(1 - alpha_bar) in xt's dtype; one case per kind, from its definition
  // DM_TODO("04.1");
  // END STUB
  // END SOLUTION
  throw std::invalid_argument("to_eps: unknown prediction kind");
}
// ANCHOR_END: to_eps

// ANCHOR: from_eps
torch::Tensor from_eps(Prediction kind, const torch::Tensor& eps, const torch::Tensor& xt,
                       const torch::Tensor& alpha_bar) {
  // BEGIN SOLUTION 04.1
  const auto a = alpha_bar.sqrt().to(xt.scalar_type());
  const auto s = (1 - alpha_bar).sqrt().to(xt.scalar_type());
  switch (kind) {
    case Prediction::Eps:
      return eps;
    case Prediction::X0:
      return (xt - s * eps) / a;
    case Prediction::V:
      return (eps - s * xt) / a;  // a eps - s x0 with x0 = (x_t - s eps) / a, using a^2 + s^2 = 1
    case Prediction::Score:
      return -eps / s;
  }
  // BEGIN STUB
  // // the inverse of to_eps, kind by kind
  // DM_TODO("04.1");
  // END STUB
  // END SOLUTION
  throw std::invalid_argument("from_eps: unknown prediction kind");
}
// ANCHOR_END: from_eps

}  // namespace dm::ch04
