// Exercise 06.10: RePaint's order of noise levels, down with jumps back up.
#include <fmt/core.h>

#include <stdexcept>

#include "06_guidance/inpainting.hpp"
#include "dm/todo.hpp"

namespace dm::ch06 {

// ANCHOR: repaint_schedule
std::vector<std::int64_t> repaint_schedule(std::int64_t T, std::int64_t jump, std::int64_t resamplings) {
  if (T < 1 || jump < 1 || resamplings < 1)
    throw std::invalid_argument(fmt::format(
        "repaint_schedule: T = {}, jump = {}, resamplings = {}: each must be at least 1", T, jump, resamplings));
  DM_TODO("06.10");
}
// ANCHOR_END: repaint_schedule

}  // namespace dm::ch06
