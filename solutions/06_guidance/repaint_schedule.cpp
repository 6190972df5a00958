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
  // BEGIN SOLUTION 06.10
  std::vector<std::int64_t> levels = {T - 1};
  for (std::int64_t level = T - 2; level >= -1; --level) {
    levels.push_back(level);                                               // one reverse step down
    if (level < 0 || level % jump != 0 || level + jump > T - 1) continue;  // not a jump point
    for (std::int64_t walk = 1; walk < resamplings; ++walk) {  // the stretch again, resamplings times in all
      levels.push_back(level + jump);                          // the jump back up
      for (std::int64_t l = level + jump - 1; l >= level; --l) levels.push_back(l);
    }
  }
  return levels;
  // END SOLUTION
}
// ANCHOR_END: repaint_schedule

}  // namespace dm::ch06
