// Exercise 06.8: one reverse step of inpainting by replacement.
#include <fmt/core.h>

#include <stdexcept>

#include "06_guidance/inpainting.hpp"
#include "dm/todo.hpp"

namespace dm::ch06 {

// ANCHOR: inpaint_step
torch::Tensor inpaint_step(const InpaintStepParts& parts, const Schedule& s, const torch::Tensor& x_t, std::int64_t t,
                           const torch::Tensor& eps, const torch::Tensor& z, const torch::Tensor& known,
                           const torch::Tensor& mask, const torch::Tensor& eps_known) {
  if (t < 0 || t >= s.T())
    throw std::invalid_argument(fmt::format("inpaint_step: t = {} is not a timestep 0..{}", t, s.T() - 1));
  DM_TODO("06.8");
}
// ANCHOR_END: inpaint_step

}  // namespace dm::ch06
