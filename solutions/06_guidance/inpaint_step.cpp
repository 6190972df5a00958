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
  // BEGIN SOLUTION 06.8
  const auto generated = parts.reverse(x_t, t, eps, z).x_prev;  // the network's step: level t -> t - 1
  const auto level =
      torch::full({known.size(0)}, t - 1, torch::TensorOptions().dtype(torch::kLong).device(known.device()));
  const auto kept = t == 0 ? known : parts.q_sample(s, known, level, eps_known);  // the known image at level t - 1
  return mask * kept + (1 - mask) * generated;
  // END SOLUTION
}
// ANCHOR_END: inpaint_step

}  // namespace dm::ch06
