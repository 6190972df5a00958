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
  // BEGIN SOLUTION 05.1
  std::vector<std::int64_t> ts;
  ts.reserve(static_cast<std::size_t>(steps));
  for (std::int64_t i = steps - 1; i >= 0; --i) {  // built from the largest t down
    const double di = double(i);
    switch (spacing) {
      case Spacing::Leading:  // every (T / steps)-th step from 0, shifted by the offset
        ts.push_back(i * (T / steps) + offset);
        break;
      case Spacing::Trailing:  // every (T / steps)-th step counted back from T, minus 1
        ts.push_back(std::int64_t(std::nearbyint(double(T) - double(steps - 1 - i) * double(T) / double(steps))) - 1);
        break;
      case Spacing::Linspace:  // steps points from 0 to T-1, both included
        ts.push_back(steps == 1 ? 0 : std::int64_t(std::nearbyint(di * double(T - 1) / double(steps - 1))));
        break;
    }
  }
  for (auto t : ts)
    if (t < 0 || t >= T)
      throw std::invalid_argument("ddim_timesteps: timestep " + std::to_string(t) + " outside 0.." +
                                  std::to_string(T - 1) + " (offset " + std::to_string(offset) + " too large?)");
  return ts;
  // BEGIN STUB
  // std::vector<std::int64_t> ts;  // fill with the largest t first; lesson 05, section 4 gives the rules
  // DM_TODO("05.1");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: ddim_timesteps

// ANCHOR: previous_timesteps
std::vector<std::int64_t> previous_timesteps(const std::vector<std::int64_t>& timesteps) {
  // BEGIN SOLUTION 05.1
  if (timesteps.empty()) return {};
  std::vector<std::int64_t> prev(timesteps.begin() + 1, timesteps.end());  // each step lands on the next entry
  prev.push_back(-1);                                                      // and the last one on the data
  return prev;
  // BEGIN STUB
  // // read it off the schedule itself: the next entry, and -1 after the last
  // DM_TODO("05.1");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: previous_timesteps

double alpha_bar_at(const torch::Tensor& alpha_bar, std::int64_t t, double final_alpha_bar) {
  if (t < 0) return final_alpha_bar;
  TORCH_CHECK(t < alpha_bar.size(0), "alpha_bar_at: t = ", t, " but T = ", alpha_bar.size(0));
  return alpha_bar[t].item<double>();
}

}  // namespace dm::ch05
