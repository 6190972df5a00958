// Exercise 06.10: RePaint's order of noise levels.
// Checks the order against small cases written out by hand (T = 10, jump = 3, resamplings = 2 first), that
// one resampling is the straight order T - 1, ..., 0, -1, the order's invariants over a grid of (T, jump,
// resamplings) — it starts at T - 1 and ends at -1, moves by -1 or +jump, jumps from the levels 0, jump,
// 2 jump, ... whose jump stays at or below T - 1, each resamplings - 1 times, and so takes
// T + (resamplings - 1) jump (number of jump points) reverse steps — and the edge cases (T = 1, jump >= T,
// jump = T - 1). The order at the grader's seed comes from a walk that counts its arrivals at each jump
// point (ch06_inpainting_reference.hpp), not from the exercise's code.
// Names the slips: jump points counted down from the top, resamplings + 1 walks, jump points above the top
// kept or the one that lands on the top dropped, the walk back down stopping one level short, no jump at all.
// Run one test: build/default/bin/test_06_exercises --gtest_filter='RepaintSchedule.*'
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <string>
#include <vector>

#include "06_guidance/inpainting.hpp"
#include "ch06_inpainting_reference.hpp"
#include "ch06_reference.hpp"
#include "testing.hpp"

using namespace dm::ch06;
namespace t6 = dm::ch06::test;
using Order = std::vector<std::int64_t>;

namespace {
std::string args(std::int64_t T, std::int64_t jump, std::int64_t r) {
  return "T = " + std::to_string(T) + ", jump = " + std::to_string(jump) + ", resamplings = " + std::to_string(r);
}

// Checks one order written out by hand, naming the slip it matches.
void expect_order(std::int64_t T, std::int64_t jump, std::int64_t r, const Order& want) {
  const auto got = repaint_schedule(T, jump, r);
  t6::name_mistake(t6::order_mistake(got, T, jump, r), " (" + args(T, jump, r) + ")");
  EXPECT_TRUE(got == want) << args(T, jump, r) << ": expected " << t6::join(want) << "; got " << t6::join(got) << " ("
                           << t6::first_difference(got, want) << ")";
}

// The first invariant the order breaks, or "".
std::string broken_invariant(const Order& got, std::int64_t T, std::int64_t jump, std::int64_t r) {
  if (got.empty()) return "the order is empty";
  if (got.front() != T - 1) return "the order starts at " + std::to_string(got.front()) + ", not at T - 1";
  if (got.back() != -1) return "the order ends at " + std::to_string(got.back()) + ", not at -1 (the image)";
  std::map<std::int64_t, std::int64_t> jumps_from;
  std::int64_t steps = 0;
  for (std::size_t i = 1; i < got.size(); ++i) {
    const auto from = got[i - 1], to = got[i];
    if (from == -1) return "the order goes on after reaching -1 (the image)";
    if (to < -1 || to > T - 1) return "the order visits level " + std::to_string(to) + ", outside -1 .. T - 1";
    if (to == from - 1)
      ++steps;
    else if (to == from + jump)
      ++jumps_from[from];
    else
      return "the move " + std::to_string(from) + " -> " + std::to_string(to) +
             " is neither one level down nor a jump up";
  }
  std::map<std::int64_t, std::int64_t> want_jumps;
  for (std::int64_t l = 0; l + jump <= T - 1; l += jump)
    if (r > 1) want_jumps[l] = r - 1;
  if (jumps_from != want_jumps) {
    std::string seen;
    for (const auto& [l, n] : jumps_from) seen += " " + std::to_string(l) + " (" + std::to_string(n) + "x)";
    return "the jumps start from the levels" + (seen.empty() ? std::string(" (none)") : seen) +
           "; the jump points are 0, jump, 2 jump, ... with l + jump <= T - 1, each jumped from resamplings - 1 times";
  }
  const auto points = static_cast<std::int64_t>(want_jumps.size());
  if (steps != T + (r - 1) * jump * points)
    return std::to_string(steps) + " reverse steps, not T + (resamplings - 1) jump (number of jump points) = " +
           std::to_string(T + (r - 1) * jump * points);
  return "";
}
}  // namespace

TEST(RepaintSchedule, IsTheOrderWrittenOut) {
  expect_order(10, 3, 2, {9, 8, 7, 6, 9, 8, 7, 6, 5, 4, 3, 6, 5, 4, 3, 2, 1, 0, 3, 2, 1, 0, -1});
  expect_order(11, 3, 2, {10, 9, 8, 7, 6, 9, 8, 7, 6, 5, 4, 3, 6, 5, 4, 3, 2, 1, 0, 3, 2, 1, 0, -1});
  expect_order(5, 2, 3, {4, 3, 2, 4, 3, 2, 4, 3, 2, 1, 0, 2, 1, 0, 2, 1, 0, -1});
  expect_order(3, 1, 2, {2, 1, 2, 1, 0, 1, 0, -1});
}

TEST(RepaintSchedule, WithOneResamplingIsTheStraightOrder) {
  for (const auto& [T, jump] : std::vector<std::array<std::int64_t, 2>>{{10, 3}, {7, 1}, {4, 2}}) {
    const auto got = repaint_schedule(T, jump, 1);
    const auto want = t6::straight_order(T);
    if (got != want && got == t6::walk_order(T, jump, 2))
      t6::name_mistake(t6::kExtraWalk, " (" + args(T, jump, 1) + ")");
    EXPECT_TRUE(got == want) << args(T, jump, 1) << ": one walk of every stretch, no jump: expected " << t6::join(want)
                             << "; got " << t6::join(got);
  }
}

TEST(RepaintSchedule, KeepsItsInvariants) {
  for (std::int64_t T : {1, 2, 5, 10, 17, 32})
    for (std::int64_t jump : {1, 2, 3, 5, 8})
      for (std::int64_t r : {1, 2, 3}) {
        const auto got = repaint_schedule(T, jump, r);
        const auto broken = broken_invariant(got, T, jump, r);
        if (broken.empty()) continue;
        t6::name_mistake(t6::order_mistake(got, T, jump, r), " (" + args(T, jump, r) + ")");
        ADD_FAILURE() << args(T, jump, r) << ": " << broken << "; got " << t6::join(got);
        return;  // the first case that breaks one is enough
      }
}

TEST(RepaintSchedule, HandlesTheSmallestCases) {
  expect_order(1, 1, 3, {0, -1});  // one level: one step, nowhere to jump to
  expect_order(1, 4, 1, {0, -1});
  expect_order(5, 5, 3, {4, 3, 2, 1, 0, -1});  // jump >= T: no jump point
  expect_order(5, 9, 2, {4, 3, 2, 1, 0, -1});
  expect_order(4, 3, 2, {3, 2, 1, 0, 3, 2, 1, 0, -1});  // jump = T - 1: level 0 alone, its jump to the top
  expect_order(2, 1, 3, {1, 0, 1, 0, 1, 0, -1});
}

// The argument check stands outside the exercise's block (ungraded).
TEST(RepaintScheduleContract, RefusesNonPositiveArguments) {
  EXPECT_THROW(repaint_schedule(0, 1, 1), std::invalid_argument);
  EXPECT_THROW(repaint_schedule(10, 0, 2), std::invalid_argument);
  EXPECT_THROW(repaint_schedule(10, 3, 0), std::invalid_argument);
}
