// Exercise 06.7: grad_x log p_phi(y | x_t, t) of a classifier network, by autograd.
#include "06_guidance/guidance.hpp"
#include "dm/todo.hpp"

#include <torch/autograd.h>

namespace dm::ch06 {

// ANCHOR: classifier_log_prob_grad
torch::Tensor classifier_log_prob_grad(const ClassifierFn& classifier, const torch::Tensor& x_t, const torch::Tensor& t,
                                       const torch::Tensor& y) {
  TORCH_CHECK(x_t.size(0) == t.size(0) && x_t.size(0) == y.size(0),
              "classifier_log_prob_grad: x_t, t and y must have the same batch");
  // BEGIN SOLUTION 06.7
  torch::AutoGradMode grad_on(true);           // the samplers run under NoGradGuard
  auto x = x_t.detach().requires_grad_(true);  // a leaf of our own: the caller's tensor stays as it was
  const auto log_p = torch::log_softmax(classifier(x, t), 1).gather(1, y.unsqueeze(1));  // [B, 1]
  // Each sample's log p depends on its own x only, so the gradient of the sum is every sample's gradient.
  return torch::autograd::grad({log_p.sum()}, {x})[0].detach();
  // END SOLUTION
}
// ANCHOR_END: classifier_log_prob_grad

}  // namespace dm::ch06
