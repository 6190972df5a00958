// Exercise 06.11: the RePaint sampler, a walk over the levels with reverse steps and jumps.
// Driven with recording fakes of the network, the step and the jump (ch06_inpainting_reference.hpp), over
// orders of levels written out here (06.10's code does not run): checks the order of the calls, a network
// call and a step for each move down and a jump for each move up; that the network is asked at the level
// the move starts from (a [B] int64 tensor on x's device) about the current sample, and never for a jump;
// that the step gets that same level, the network's eps, the known image and the mask; that jumps get
// (from, to); that the walk starts from x_T, reports every move with the level it reached and returns the
// last sample (the walk written out over the same fakes); that the parts run without autograd; that the
// callback is optional; that without jumps it is the replacement sampler.
// Names the slips: the network asked, or the step told, the level the move ends at; a jump taken as a
// reverse step; the jump's levels swapped; on_move told the level the move started from; autograd left on;
// the walk started from the known image.
// Run one test: build/default/bin/test_06_exercises --gtest_filter='Repaint.*'
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "06_guidance/inpainting.hpp"
#include "ch06_inpainting_reference.hpp"
#include "ch06_reference.hpp"
#include "testing.hpp"

using namespace dm::ch06;
namespace t6 = dm::ch06::test;
using dm::testing::fixed_normal;
using dm::testing::tensors_close;
using Order = std::vector<std::int64_t>;

namespace {
// T = 6, jump = 2, resamplings = 2, written out: jump points 0 and 2.
const Order kLevels = {5, 4, 3, 2, 4, 3, 2, 1, 0, 2, 1, 0, -1};

struct Images {
  torch::Tensor x_T, known, mask;
  explicit Images(std::uint64_t seed, std::int64_t B = 3) {
    x_T = fixed_normal({B, 1, 3, 3}, seed);
    known = fixed_normal({B, 1, 3, 3}, seed + 1).clamp(-1, 1);
    mask = (fixed_normal({B, 1, 3, 3}, seed + 2) > 0).to(torch::kFloat32);
  }
};

torch::Tensor run(t6::WalkRecorder& r, const Order& levels, const Images& im, bool with_moves = true) {
  return repaint(r.parts(), levels, im.x_T, im.known, im.mask, with_moves ? r.on_move() : nullptr);
}

// The slip the recorded calls or the samples match, if any.
std::string walk_mistake(const t6::WalkRecorder& r, const Order& levels, const Images& im, bool with_moves) {
  auto why = t6::events_mistake(r.events, levels, with_moves);
  if (!why.empty()) return why;
  const auto& first_x = !r.eps_x.empty() ? r.eps_x.front() : !r.jump_x.empty() ? r.jump_x.front() : torch::Tensor();
  if (first_x.defined() && !torch::allclose(first_x, im.x_T) && torch::allclose(first_x, im.known))
    return t6::kFromKnown;
  return "";
}

std::int64_t downs(const Order& levels) {
  std::int64_t n = 0;
  for (std::size_t i = 1; i < levels.size(); ++i) n += levels[i] < levels[i - 1];
  return n;
}
}  // namespace

TEST(Repaint, StepsDownAndJumpsUpInOrder) {
  const Images im(6950);
  t6::WalkRecorder r;
  auto got = run(r, kLevels, im);
  t6::name_mistake(walk_mistake(r, kLevels, im, true));
  const auto want = t6::expected_events(kLevels, true);
  EXPECT_TRUE(r.events == want) << "the calls of the levels " << t6::join(kLevels) << ": "
                                << t6::first_difference(r.events, want) << "; expected " << t6::join(want) << "; got "
                                << t6::join(r.events);
  EXPECT_TRUE(tensors_close("repaint's result, the sample the last move reached", got,
                            t6::expected_walk(kLevels, im.x_T, im.known, im.mask).back(), 1e-5, 1e-5));
}

TEST(Repaint, AsksTheNetworkAtTheLevelTheMoveStartsFrom) {
  const Images im(6955);
  t6::WalkRecorder r;
  run(r, kLevels, im);
  t6::name_mistake(walk_mistake(r, kLevels, im, true));
  EXPECT_TRUE(r.bad_t.empty()) << "eps_theta needs " << (r.bad_t.empty() ? "" : r.bad_t[0])
                               << ", filled with the level";
  ASSERT_EQ(static_cast<std::int64_t>(r.eps_t.size()), downs(kLevels))
      << "one network call for each move down (" << downs(kLevels) << "), none for a jump";
  const auto samples = t6::expected_walk(kLevels, im.x_T, im.known, im.mask);
  std::size_t k = 0;
  for (std::size_t i = 1; i < kLevels.size() && k < r.eps_t.size(); ++i) {
    if (kLevels[i] > kLevels[i - 1]) continue;
    EXPECT_EQ(r.eps_t[k], kLevels[i - 1])
        << "the move " << kLevels[i - 1] << " -> " << kLevels[i] << " asks the network at level " << kLevels[i - 1];
    EXPECT_TRUE(torch::allclose(r.eps_x[k], samples[i - 1], 1e-5, 1e-6))
        << "the move " << kLevels[i - 1] << " -> " << kLevels[i] << " asks the network about the current sample";
    ++k;
  }
}

TEST(Repaint, GivesTheStepTheNetworksEpsTheKnownImageAndTheMask) {
  const Images im(6960);
  t6::WalkRecorder r;
  run(r, kLevels, im);
  t6::name_mistake(walk_mistake(r, kLevels, im, true));
  ASSERT_EQ(r.step_t.size(), r.eps_t.size()) << "one step for each network call";
  ASSERT_EQ(static_cast<std::int64_t>(r.step_t.size()), downs(kLevels)) << "one step for each move down";
  for (std::size_t k = 0; k < r.step_t.size(); ++k) {
    EXPECT_EQ(r.step_t[k], r.eps_t[k]) << "a step is told the level the network was asked at";
    EXPECT_TRUE(torch::equal(r.step_eps[k], r.eps_out[k])) << "the step gets the network's answer, as it is";
    EXPECT_TRUE(torch::equal(r.step_x[k], r.eps_x[k])) << "the step and the network see the same sample";
    EXPECT_TRUE(torch::equal(r.step_known[k], im.known)) << "every step gets the known image";
    EXPECT_TRUE(torch::equal(r.step_mask[k], im.mask)) << "every step gets the mask";
  }
}

TEST(Repaint, JumpsUpFromTheLevelReached) {
  const Images im(6965);
  t6::WalkRecorder r;
  run(r, kLevels, im);
  t6::name_mistake(walk_mistake(r, kLevels, im, true));
  const std::vector<std::pair<std::int64_t, std::int64_t>> want = {{2, 4}, {0, 2}};
  EXPECT_TRUE(r.jumps == want) << "the levels " << t6::join(kLevels) << " jump 2 -> 4, then 0 -> 2";
  const auto samples = t6::expected_walk(kLevels, im.x_T, im.known, im.mask);
  if (r.jump_x.size() == 2) {
    EXPECT_TRUE(torch::allclose(r.jump_x[0], samples[3], 1e-5, 1e-6)) << "the jump 2 -> 4 takes the sample at level 2";
    EXPECT_TRUE(torch::allclose(r.jump_x[1], samples[8], 1e-5, 1e-6)) << "the jump 0 -> 2 takes the sample at level 0";
  }
}

TEST(Repaint, RunsWithoutAutograd) {
  const Images im(6970);
  t6::WalkRecorder r;
  ASSERT_TRUE(torch::GradMode::is_enabled());
  run(r, kLevels, im);
  ASSERT_FALSE(r.grad_on.empty()) << "the walk calls its parts";
  bool on = false;
  for (bool g : r.grad_on) on = on || g;
  if (on) t6::name_mistake(t6::kGradOn);
  EXPECT_TRUE(torch::GradMode::is_enabled()) << "autograd is still off after the call: switch it off for the walk "
                                                "alone (a guard object scoped to the function)";
}

TEST(Repaint, ReportsEveryMoveAndReturnsTheLastSample) {
  const Images im(6975);
  t6::WalkRecorder r;
  auto got = run(r, kLevels, im);
  t6::name_mistake(walk_mistake(r, kLevels, im, true));
  const Order reached(kLevels.begin() + 1, kLevels.end());
  EXPECT_TRUE(r.move_level == reached) << "on_move is called after every move with the level it reached: expected "
                                       << t6::join(reached) << "; got " << t6::join(r.move_level);
  const auto samples = t6::expected_walk(kLevels, im.x_T, im.known, im.mask);
  for (std::size_t i = 0; i < r.move_x.size() && i + 1 < samples.size(); ++i)
    EXPECT_TRUE(torch::allclose(r.move_x[i], samples[i + 1], 1e-5, 1e-6))
        << "on_move after the move " << kLevels[i] << " -> " << kLevels[i + 1] << " gets the sample it reached";
  EXPECT_TRUE(tensors_close("repaint's result (level -1)", got, samples.back(), 1e-5, 1e-5));
}

TEST(Repaint, WithoutJumpsIsTheReplacementSampler) {
  const Images im(6980, 2);
  const Order straight = {4, 3, 2, 1, 0, -1};
  t6::WalkRecorder r;
  auto got = run(r, straight, im);
  t6::name_mistake(walk_mistake(r, straight, im, true));
  EXPECT_TRUE(r.jumps.empty()) << "the levels " << t6::join(straight) << " have no jump";
  EXPECT_EQ(r.step_t, (Order{4, 3, 2, 1, 0})) << "a step at each level from 4 down to 0";
  EXPECT_TRUE(tensors_close("the replacement sampler's result", got,
                            t6::expected_walk(straight, im.x_T, im.known, im.mask).back(), 1e-5, 1e-5));
}

TEST(Repaint, WorksWithoutACallback) {
  const Images im(6985);
  t6::WalkRecorder r;
  torch::Tensor got;
  try {
    got = run(r, kLevels, im, /*with_moves=*/false);
  } catch (const std::bad_function_call&) {
    FAIL() << "likely mistake: on_move was called although none was given: it is optional (nullptr)";
  }
  t6::name_mistake(walk_mistake(r, kLevels, im, false));
  EXPECT_TRUE(tensors_close("repaint's result without on_move", got,
                            t6::expected_walk(kLevels, im.x_T, im.known, im.mask).back(), 1e-5, 1e-5));
}

// The check of the levels stands outside the exercise's block (ungraded).
TEST(RepaintContract, RefusesMalformedLevelsBeforeAnyNetworkCall) {
  const Images im(6990, 1);
  for (const auto& levels : std::vector<Order>{{}, {-1}, {3, 2, 1, 0}, {3, 1, 0, -1}, {3, 3, 2, 1, 0, -1}}) {
    t6::WalkRecorder r;
    EXPECT_THROW(run(r, levels, im), std::invalid_argument) << t6::join(levels);
    EXPECT_TRUE(r.events.empty()) << "no part is called before the levels are checked: " << t6::join(levels);
  }
}
