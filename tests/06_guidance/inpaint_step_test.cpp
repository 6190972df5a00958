// Exercise 06.8: one reverse step of inpainting by replacement.
// Over recording fakes of parts.reverse and parts.q_sample (ch06_inpainting_reference.hpp; none of chapter
// 02's or 03's code runs) and a small schedule built here: checks that the known image is brought to level
// t - 1 (a [B] int64 tensor of t - 1 on the images' device) with the schedule and eps_known, that the pixels
// where mask = 1 are that noised known image and those where mask = 0 the reverse step's x_{t-1} (its call
// given x_t, t, eps and z unchanged), that the last step (t = 0) keeps the known pixels exactly, that a
// [1, 1, H, W] mask broadcasts over a batch of several channels, and that the inputs are left alone.
// Names the slips: the known image noised to level t, the mask read the wrong way round, the clean known
// pixels pasted at every step, the known pixels noised at the last step, the network's eps or the step's z
// used for the known pixels, the known part not multiplied by the mask, no replacement, no step.
// Run one test: build/default/bin/test_06_exercises --gtest_filter='InpaintStep.*'
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "06_guidance/inpainting.hpp"
#include "ch06_inpainting_reference.hpp"
#include "ch06_reference.hpp"
#include "testing.hpp"

using namespace dm::ch06;
namespace t6 = dm::ch06::test;
using dm::testing::tensors_close;

namespace {
// The values of x where the mask is 1 (known), or 0 (generated), as a flat tensor.
torch::Tensor known_part(const torch::Tensor& x, const torch::Tensor& mask) {
  return torch::masked_select(x, mask.expand_as(x) > 0.5);
}
torch::Tensor generated_part(const torch::Tensor& x, const torch::Tensor& mask) {
  return torch::masked_select(x, mask.expand_as(x) < 0.5);
}

torch::Tensor run(t6::StepRecorder& r, const t6::StepCase& c, std::int64_t t) {
  return inpaint_step(r.parts(), c.s, c.x, t, c.eps, c.z, c.known, c.mask, c.ek);
}

// The slip the output or the recorded q_sample call matches, if any.
std::string step_mistake(const t6::StepRecorder& r, const t6::StepCase& c, std::int64_t t, const torch::Tensor& out) {
  auto want = t6::expected_step(c.s, c.x, t, c.eps, c.z, c.known, c.mask, c.ek);
  auto why = t6::diagnose(out, want, t6::step_slips(c, t), 1e-5, 1e-6);
  if (!why.empty() || out.sizes() != want.sizes()) return why;
  const bool known_right = torch::allclose(known_part(out, c.mask), known_part(want, c.mask), 1e-5, 1e-6);
  if (t == 0 && r.q_calls > 0 && !known_right) return t6::kLastNoised;
  if (t > 0 && r.q_calls == 0 && torch::allclose(known_part(out, c.mask), known_part(c.known, c.mask)))
    return t6::kClean;
  if (t > 0 && r.q_calls == 1 && r.q_t.defined() && r.q_t.numel() > 0) {
    if (torch::equal(r.q_t.to(torch::kLong), torch::full_like(r.q_t.to(torch::kLong), t))) return t6::kLevelT;
    if (t6::same(r.q_eps, c.eps)) return t6::kNetEps;
    if (t6::same(r.q_eps, c.z)) return t6::kZ;
  }
  return "";
}
}  // namespace

TEST(InpaintStep, KeepsTheKnownPixelsAtTheNextLevel) {
  const t6::StepCase c(4, 1, 3, 3, 6810);
  t6::StepRecorder r;
  const std::int64_t t = 6;
  auto out = run(r, c, t);
  t6::name_mistake(step_mistake(r, c, t, out));
  ASSERT_EQ(r.q_calls, 1) << "bring the known image to the level below t with parts.q_sample, once";
  ASSERT_TRUE(r.q_t.defined());
  EXPECT_EQ(r.q_t.scalar_type(), torch::kLong) << "q_sample's t is an int64 tensor";
  EXPECT_TRUE(r.q_t.dim() == 1 && r.q_t.size(0) == 4) << "q_sample's t has one level per image: [B] = [4]";
  EXPECT_EQ(r.q_t.device(), c.x.device()) << "q_sample's t lives on the images' device";
  EXPECT_TRUE(torch::equal(r.q_t.to(torch::kLong).flatten(), torch::full({r.q_t.numel()}, t - 1, torch::kLong)))
      << "the step goes from level t = 6 to level 5: q_sample's t is 5 for every image";
  EXPECT_TRUE(t6::same(r.q_x0, c.known)) << "q_sample noises the known image";
  EXPECT_TRUE(t6::same(r.q_eps, c.ek)) << "q_sample noises the known image with eps_known";
  EXPECT_TRUE(t6::same(r.q_ab, c.s.alpha_bar)) << "q_sample gets the schedule s";
  ASSERT_EQ(out.sizes(), c.x.sizes()) << "the step's result has x_t's shape";
  auto kept = t6::StepRecorder::noised(c.s, c.known, t - 1, c.ek);
  EXPECT_TRUE(tensors_close("the known pixels (mask = 1) of the step's result", known_part(out, c.mask),
                            known_part(kept, c.mask), 1e-6, 1e-5));
}

TEST(InpaintStep, TakesTheGeneratedPixelsFromTheReverseStep) {
  const t6::StepCase c(4, 1, 3, 3, 6820);
  t6::StepRecorder r;
  const std::int64_t t = 3;
  auto out = run(r, c, t);
  t6::name_mistake(step_mistake(r, c, t, out));
  ASSERT_EQ(r.reverse_calls, 1) << "take the network's step with parts.reverse, once";
  EXPECT_EQ(r.reverse_t, t) << "parts.reverse gets the step's timestep t";
  EXPECT_TRUE(t6::same(r.rx, c.x)) << "parts.reverse gets x_t";
  EXPECT_TRUE(t6::same(r.reps, c.eps)) << "parts.reverse gets the network's eps";
  EXPECT_TRUE(t6::same(r.rz, c.z)) << "parts.reverse gets the step's noise z";
  ASSERT_EQ(out.sizes(), c.x.sizes()) << "the step's result has x_t's shape";
  auto gen = t6::StepRecorder::reversed(c.x, t, c.eps, c.z);
  EXPECT_TRUE(tensors_close("the generated pixels (mask = 0) of the step's result", generated_part(out, c.mask),
                            generated_part(gen, c.mask), 1e-6, 1e-5));
  EXPECT_TRUE(tensors_close("the step's result", out, t6::expected_step(c.s, c.x, t, c.eps, c.z, c.known, c.mask, c.ek),
                            1e-6, 1e-5));
}

TEST(InpaintStep, KeepsTheKnownPixelsExactlyAtTheLastStep) {
  const t6::StepCase c(3, 1, 4, 3, 6830);
  t6::StepRecorder r;
  auto out = run(r, c, 0);
  t6::name_mistake(step_mistake(r, c, 0, out));
  ASSERT_EQ(out.sizes(), c.x.sizes()) << "the step's result has x_t's shape";
  EXPECT_TRUE(torch::equal(known_part(out, c.mask), known_part(c.known, c.mask)))
      << "the step at t = 0 gives the image: its known pixels are the known image's, exactly";
  EXPECT_EQ(r.reverse_t, 0) << "the generated pixels come from parts.reverse at t = 0";
  EXPECT_TRUE(tensors_close("the generated pixels (mask = 0) at t = 0", generated_part(out, c.mask),
                            generated_part(t6::StepRecorder::reversed(c.x, 0, c.eps, c.z), c.mask), 1e-6, 1e-5));
}

TEST(InpaintStep, BroadcastsAOneChannelMaskOverTheBatch) {
  const t6::StepCase c(3, 2, 4, 4, 6840, /*one_mask=*/true);  // images [3, 2, 4, 4], mask [1, 1, 4, 4]
  t6::StepRecorder r;
  const std::int64_t t = 4;
  auto out = run(r, c, t);
  t6::name_mistake(step_mistake(r, c, t, out));
  ASSERT_EQ(out.sizes(), c.x.sizes()) << "a [1, 1, H, W] mask applies to every image and channel: [3, 2, 4, 4] out";
  if (r.q_t.defined()) {
    EXPECT_EQ(r.q_t.numel(), 3) << "q_sample's t has one level per image (3), not one per mask (1)";
  }
  EXPECT_TRUE(tensors_close("the step with a [1, 1, H, W] mask", out,
                            t6::expected_step(c.s, c.x, t, c.eps, c.z, c.known, c.mask, c.ek), 1e-6, 1e-5));
}

TEST(InpaintStep, LeavesItsInputsAlone) {
  const t6::StepCase c(2, 1, 3, 3, 6850);
  const auto x = c.x.clone(), eps = c.eps.clone(), z = c.z.clone(), known = c.known.clone(), mask = c.mask.clone(),
             ek = c.ek.clone();
  t6::StepRecorder r;
  run(r, c, 5);
  run(r, c, 0);
  EXPECT_TRUE(torch::equal(c.x, x)) << "inpaint_step wrote into x_t";
  EXPECT_TRUE(torch::equal(c.eps, eps)) << "inpaint_step wrote into eps";
  EXPECT_TRUE(torch::equal(c.z, z)) << "inpaint_step wrote into z";
  EXPECT_TRUE(torch::equal(c.known, known)) << "inpaint_step wrote into the known image";
  EXPECT_TRUE(torch::equal(c.mask, mask)) << "inpaint_step wrote into the mask";
  EXPECT_TRUE(torch::equal(c.ek, ek)) << "inpaint_step wrote into eps_known";
}

// The argument check stands outside the exercise's block (ungraded).
TEST(InpaintStepContract, RefusesATimestepOutsideTheSchedule) {
  const t6::StepCase c(1, 1, 2, 2, 6860);
  t6::StepRecorder r;
  EXPECT_THROW(run(r, c, -1), std::invalid_argument);
  EXPECT_THROW(run(r, c, c.s.T()), std::invalid_argument);
}
