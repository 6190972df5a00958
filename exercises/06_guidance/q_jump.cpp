// Exercise 06.9: the forward process run on from a noised sample, q(x_{t'} | x_t), in one draw.
#include <fmt/core.h>

#include <cmath>
#include <stdexcept>

#include "06_guidance/inpainting.hpp"
#include "dm/todo.hpp"

namespace dm::ch06 {

// ANCHOR: q_jump
torch::Tensor q_jump(const Schedule& s, const torch::Tensor& x_t, std::int64_t t, std::int64_t t_to,
                     const torch::Tensor& z) {
  if (t < 0 || t_to < t || t_to >= s.T())
    throw std::invalid_argument(fmt::format("q_jump: levels {} -> {}: need 0 <= t <= t_to <= {}", t, t_to, s.T() - 1));
  DM_TODO("06.9");
}
// ANCHOR_END: q_jump

}  // namespace dm::ch06
