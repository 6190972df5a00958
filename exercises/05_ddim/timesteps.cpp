// Exercise 05.1: which timesteps a DDIM sampler of `steps` steps visits, and where each step lands.
#include <cmath>
#include <stdexcept>
#include <string>

#include "05_ddim/ddim.hpp"
#include "dm/todo.hpp"

namespace dm::ch05 {

Spacing parse_spacing(const std::string& name) {
  if (name == "leading") return Spacing::Leading;
  if (name == "trailing") return Spacing::Trailing;
  if (name == "linspace") return Spacing::Linspace;
  throw std::invalid_argument("unknown timestep spacing '" + name + "' (leading, trailing or linspace)");
}

const char* spacing_name(Spacing s) {
  switch (s) {
    case Spacing::Leading:
      return "leading";
    case Spacing::Trailing:
      return "trailing";
    case Spacing::Linspace:
      return "linspace";
  }
  return "?";
}

// ANCHOR: ddim_timesteps
std::vector<std::int64_t> ddim_timesteps(std::int64_t T, std::int64_t steps, Spacing spacing, std::int64_t offset) {
  if (T < 1 || steps < 1 || steps > T)
    throw std::invalid_argument("ddim_timesteps: need 1 <= steps <= T, got steps = " + std::to_string(steps) +
                                ", T = " + std::to_string(T));
  std::vector<std::int64_t> ts;  // fill with the largest t first; lesson 05, section 4 gives the rules
  DM_TODO("05.1");
}
// ANCHOR_END: ddim_timesteps

// ANCHOR: previous_timesteps
std::vector<std::int64_t> previous_timesteps(const std::vector<std::int64_t>& timesteps) {
  // read it off the schedule itself: the next entry, and -1 after the last
  DM_TODO("05.1");
}
// ANCHOR_END: previous_timesteps

double alpha_bar_at(const torch::Tensor& alpha_bar, std::int64_t t, double final_alpha_bar) {
  if (t < 0) return final_alpha_bar;
  TORCH_CHECK(t < alpha_bar.size(0), "alpha_bar_at: t = ", t, " but T = ", alpha_bar.size(0));
  return alpha_bar[t].item<double>();
}

}  // namespace dm::ch05
