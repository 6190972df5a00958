// Exercise 06.11: the RePaint sampler, a walk over the levels with reverse steps and jumps.
#include <fmt/core.h>

#include <stdexcept>

#include "06_guidance/inpainting.hpp"
#include "dm/todo.hpp"

namespace dm::ch06 {

namespace {
void check_levels(const std::vector<std::int64_t>& levels) {
  if (levels.size() < 2 || levels.back() != -1)
    throw std::invalid_argument("repaint: the levels must run from the level of x_T down to -1 (the image)");
  for (std::size_t i = 1; i < levels.size(); ++i)
    if (levels[i] == levels[i - 1] || levels[i] < levels[i - 1] - 1 || levels[i] > levels.front())
      throw std::invalid_argument(
          fmt::format("repaint: the move {} -> {} (moves are one level down, or a jump up to at most the first level)",
                      levels[i - 1], levels[i]));
}
}  // namespace

// ANCHOR: repaint
torch::Tensor repaint(const RepaintParts& parts, const std::vector<std::int64_t>& levels, const torch::Tensor& x_T,
                      const torch::Tensor& known, const torch::Tensor& mask, const RepaintCallback& on_move) {
  check_levels(levels);
  DM_TODO("06.11");
}
// ANCHOR_END: repaint

}  // namespace dm::ch06
