// Exercise 06.2: classifier-free guidance's mix of the two predictions, in both conventions.
#include <stdexcept>
#include <string>

#include "06_guidance/guidance.hpp"
#include "dm/todo.hpp"

namespace dm::ch06 {

Convention parse_convention(const std::string& name) {
  if (name == "w") return Convention::HoSalimansW;
  if (name == "scale") return Convention::GuidanceScale;
  throw std::invalid_argument("unknown guidance convention '" + name + "' (w | scale)");
}

const char* convention_name(Convention c) { return c == Convention::HoSalimansW ? "w" : "scale"; }

// ANCHOR: cfg_combine
torch::Tensor cfg_combine(const torch::Tensor& eps_cond, const torch::Tensor& eps_uncond, double strength,
                          Convention convention) {
  TORCH_CHECK(eps_cond.sizes() == eps_uncond.sizes(), "cfg_combine: eps_cond ", eps_cond.sizes(), " and eps_uncond ",
              eps_uncond.sizes(), " differ in shape");
  DM_TODO("06.2");
}
// ANCHOR_END: cfg_combine

}  // namespace dm::ch06
