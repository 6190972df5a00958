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
  DM_TODO("06.7");
}
// ANCHOR_END: classifier_log_prob_grad

}  // namespace dm::ch06
