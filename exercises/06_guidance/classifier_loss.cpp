// Exercise 06.6: the noise-aware classifier's loss, its cross-entropy on noised images.
#include "06_guidance/guidance.hpp"
#include "dm/todo.hpp"

namespace dm::ch06 {

// ANCHOR: classifier_loss
torch::Tensor classifier_loss(const ClassifierLossParts& parts, const Schedule& s, const torch::Tensor& x0,
                              const torch::Tensor& y, const torch::Tensor& t, const torch::Tensor& eps) {
  TORCH_CHECK(x0.size(0) == y.size(0) && x0.size(0) == t.size(0),
              "classifier_loss: x0, y and t must have the same batch");
  DM_TODO("06.6");
}
// ANCHOR_END: classifier_loss

}  // namespace dm::ch06
