// Exercise 06.13: each class's median of a measured attribute (where the captions' words split).
#include <stdexcept>
#include <string>

#include "06_guidance/text.hpp"
#include "dm/todo.hpp"

namespace dm::ch06 {

// ANCHOR: class_medians
torch::Tensor class_medians(const torch::Tensor& values, const torch::Tensor& labels, std::int64_t num_classes) {
  if (num_classes < 1) throw std::invalid_argument("class_medians: num_classes must be >= 1");
  if (values.dim() != 1 || labels.dim() != 1 || values.size(0) != labels.size(0) ||
      labels.scalar_type() != torch::kLong)
    throw std::invalid_argument("class_medians: values [N] and labels [N] int64 of the same N");
  if (labels.numel() > 0 && (labels.min().item<std::int64_t>() < 0 || labels.max().item<std::int64_t>() >= num_classes))
    throw std::invalid_argument("class_medians: labels must be in 0..num_classes-1");
  const auto counts = torch::bincount(labels.cpu(), {}, num_classes);
  if (labels.numel() == 0 || counts.min().item<std::int64_t>() == 0)
    throw std::invalid_argument("class_medians: every class needs at least one image");
  DM_TODO("06.13");
}
// ANCHOR_END: class_medians

}  // namespace dm::ch06
