// Exercise 06.1: the "no label" id and label dropout (Ho & Salimans 2022, Algorithm 1).
#include <stdexcept>
#include <string>

#include "06_guidance/guidance.hpp"
#include "dm/todo.hpp"

namespace dm::ch06 {

// ANCHOR: null_label
std::int64_t null_label(std::int64_t num_classes) {
  if (num_classes < 1)
    throw std::invalid_argument("null_label: num_classes must be >= 1, got " + std::to_string(num_classes));
  // BEGIN SOLUTION 06.1
  return num_classes;  // the classes use 0..K-1: the next id is free, and the U-Net's row K is for it
  // END SOLUTION
}
// ANCHOR_END: null_label

// ANCHOR: drop_labels
torch::Tensor drop_labels(const torch::Tensor& y, const torch::Tensor& u, double p_uncond, std::int64_t num_classes) {
  TORCH_CHECK(y.dim() == 1 && u.dim() == 1 && y.size(0) == u.size(0), "drop_labels: y and u must be [B], got ",
              y.sizes(), " and ", u.sizes());
  TORCH_CHECK(p_uncond >= 0 && p_uncond <= 1, "drop_labels: p_uncond must be in [0, 1], got ", p_uncond);
  // BEGIN SOLUTION 06.1
  const auto dropped = u.to(y.device()) < p_uncond;  // [B] bool: P(u < p) = p for u ~ U[0, 1)
  return torch::where(dropped, torch::full_like(y, null_label(num_classes)), y);  // a new tensor: y is untouched
  // END SOLUTION
}
// ANCHOR_END: drop_labels

}  // namespace dm::ch06
