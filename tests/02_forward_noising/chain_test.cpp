// Exercise 02.6: the forward chain run step by step (q_chain), driven with recording fakes: a step
// that is a known affine map of (x_prev, t, z), and numbered noise, fixed_normal(shape, seed + t) for
// step t. The expected sample comes from the same loop written out here; no other exercise is called.
// The likeliest mistakes, each named by a test below:
//   - off by one: the loop stops at t_end - 1 (step t_end missing) or starts at step 1 (step 0 missing)
//   - the step always fed x0 (the sample is not carried from step to step)
//   - the same noise for every step, or the noise of another step
//   - the wrong t passed to the step (t + 1, t - 1), or a t tensor that is not [B] int64 on x's device
//   - on_step called with the previous sample instead of the step's result
//   - returning x0 instead of the sample after step t_end
// Run one test: build/default/bin/test_02_exercises --gtest_filter='QChain.*'
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "02_forward_noising/chain.hpp"
#include "ch02_reference.hpp"
#include "testing.hpp"

using namespace dm::ch02;
using dm::testing::fixed_normal;
using dm::testing::seed_note;
using dm::testing::tensors_close;

namespace {

// The fake step: x_t = 0.9 x_prev + 0.2 z + 0.01 (t + 1). It depends on all three arguments, so a
// wrong sample, noise or step index shows in the result.
torch::Tensor affine_step(const torch::Tensor& x_prev, std::int64_t t, const torch::Tensor& z) {
  return 0.9 * x_prev + 0.2 * z + 0.01 * static_cast<double>(t + 1);
}

// Every call each part receives, in order.
struct Recorder {
  std::vector<std::int64_t> step_t, noise_t, callback_t;
  std::vector<torch::Tensor> step_x, step_z, step_out, callback_x;
  std::vector<std::string> bad_t;  // what was wrong with a malformed t tensor
  std::uint64_t noise_seed = 900;

  ForwardStep step() {
    return [this](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& z) {
      if (t.scalar_type() != torch::kLong || t.dim() != 1 || t.size(0) != x.size(0) || t.device() != x.device())
        bad_t.push_back("a [B] int64 tensor on x's device");
      else if (t.min().item<std::int64_t>() != t.max().item<std::int64_t>())
        bad_t.push_back("one step index for the whole batch");
      const auto tv = t.numel() > 0 ? t.flatten()[0].to(torch::kLong).item<std::int64_t>() : -99;
      step_t.push_back(tv);
      step_x.push_back(x.clone());
      step_z.push_back(z.clone());
      auto out = affine_step(x, tv, z);
      step_out.push_back(out.clone());
      return out;
    };
  }
  // The noise of step t is fixed_normal(seed + t): each step its own.
  StepNoise noise() {
    return [this](const torch::Tensor& x, std::int64_t t) {
      noise_t.push_back(t);
      return fixed_normal(x.sizes().vec(), noise_seed + static_cast<std::uint64_t>(t));
    };
  }
  ChainCallback callback() {
    return [this](std::int64_t t, const torch::Tensor& x) {
      callback_t.push_back(t);
      callback_x.push_back(x.clone());
    };
  }
};

// The same loop, written out.
torch::Tensor plain_loop(torch::Tensor x, std::int64_t t_end, std::uint64_t noise_seed) {
  for (std::int64_t t = 0; t <= t_end; ++t)
    x = affine_step(x, t, fixed_normal(x.sizes().vec(), noise_seed + static_cast<std::uint64_t>(t)));
  return x;
}

std::vector<std::int64_t> steps(std::int64_t from, std::int64_t to) {  // from..to, both included
  std::vector<std::int64_t> v;
  for (std::int64_t t = from; t <= to; ++t) v.push_back(t);
  return v;
}

// The result against the plain loop: every test checks it, so an answer that records the right calls
// but returns something else fails them all.
::testing::AssertionResult matches_plain_loop(const torch::Tensor& out, const torch::Tensor& x0, std::int64_t t_end,
                                              std::uint64_t noise_seed) {
  return tensors_close("q_chain(t_end = " + std::to_string(t_end) + ")", out, plain_loop(x0, t_end, noise_seed), 1e-6,
                       1e-5);
}

}  // namespace

TEST(QChain, MatchesReferenceOnGoldenValues) {
  Recorder r;
  auto x = q_chain(r.step(), fixed_normal({2, 1, 3, 3}, 901), 5, r.noise());
  EXPECT_TRUE(dm::testing::golden(test::kGolden, "q_chain/t_end=5", x, 1e-6, 1e-5));
}

TEST(QChain, RunsEveryStepFromZeroToTEndIncluded) {
  Recorder r;
  auto x0 = fixed_normal({2, 1, 3, 3}, 902);
  auto x = q_chain(r.step(), x0, 7, r.noise());
  if (r.step_t.empty() && torch::equal(x, x0)) ADD_FAILURE() << "likely mistake: returns x0 without taking any step";
  if (r.noise_t == steps(0, 6) && r.step_t == steps(0, 6))
    ADD_FAILURE() << "likely mistake: the chain stops at t_end - 1: step t_end itself is missing (t_end is included)";
  if (r.noise_t == steps(1, 7) && r.step_t == steps(1, 7))
    ADD_FAILURE() << "likely mistake: the chain starts at step 1: the first step, index 0, is missing";
  EXPECT_EQ(r.noise_t, steps(0, 7)) << "the steps taken, in order (each draws its noise for its own index)";
  EXPECT_TRUE(matches_plain_loop(x, x0, 7, r.noise_seed));
  // t_end = 0: exactly one step, step 0.
  Recorder one;
  auto x1 = q_chain(one.step(), x0, 0, one.noise());
  EXPECT_EQ(one.step_t, steps(0, 0)) << "t_end = 0 takes exactly one step, step 0";
  EXPECT_TRUE(matches_plain_loop(x1, x0, 0, one.noise_seed));
}

TEST(QChain, PassesTheStepItsIndexAsABatchOfInt64) {
  Recorder r;
  auto x0 = fixed_normal({3, 1, 2, 2}, 903);
  auto x = q_chain(r.step(), x0, 5, r.noise());
  if (!r.bad_t.empty())
    ADD_FAILURE() << "likely mistake: the step's t is not " << r.bad_t[0] << ", filled with the step index";
  if (r.noise_t == steps(0, 5) && r.step_t == steps(1, 6))
    ADD_FAILURE() << "likely mistake: the step gets t + 1, not the index t of the step it takes";
  if (r.noise_t == steps(0, 5) && r.step_t == steps(-1, 4))
    ADD_FAILURE() << "likely mistake: the step gets t - 1, not the index t of the step it takes";
  EXPECT_EQ(r.step_t, r.noise_t) << "step t gets t, the index its noise was drawn for";
  EXPECT_EQ(r.step_t, steps(0, 5)) << "the step indices passed to the step";
  EXPECT_TRUE(matches_plain_loop(x, x0, 5, r.noise_seed));
}

TEST(QChain, FeedsEachStepThePreviousResultAndItsOwnNoise) {
  Recorder r;
  auto x0 = fixed_normal({2, 1, 2, 2}, 904);
  auto x = q_chain(r.step(), x0, 4, r.noise());
  ASSERT_EQ(r.step_x.size(), 5u) << "t_end = 4 takes the steps 0..4";
  EXPECT_TRUE(torch::equal(r.step_x[0], x0)) << "the first step starts from x0";
  for (std::size_t i = 1; i < r.step_x.size(); ++i) {
    if (torch::equal(r.step_x[i], x0)) {
      ADD_FAILURE() << "likely mistake: the step is always fed x0: each step must see the previous step's result";
      break;
    }
    EXPECT_TRUE(torch::equal(r.step_x[i], r.step_out[i - 1]))
        << "step " << i << " starts from step " << i - 1 << "'s result";
  }
  for (std::size_t i = 1; i < r.step_z.size(); ++i)
    if (torch::equal(r.step_z[i], r.step_z[0])) {
      ADD_FAILURE() << "likely mistake: the same noise for every step: each step must draw its own";
      break;
    }
  for (std::size_t i = 0; i < r.step_z.size(); ++i) {
    auto want = fixed_normal(x0.sizes().vec(), r.noise_seed + static_cast<std::uint64_t>(i));
    EXPECT_TRUE(torch::equal(r.step_z[i], want)) << "step " << i << " gets noise(x, " << i << "), its own noise";
  }
  EXPECT_TRUE(matches_plain_loop(x, x0, 4, r.noise_seed));
}

TEST(QChain, CallsOnStepAfterEveryStepWithItsResult) {
  Recorder r;
  auto x0 = fixed_normal({2, 1, 3, 3}, 905);
  auto x = q_chain(r.step(), x0, 6, r.noise(), r.callback());
  EXPECT_EQ(r.callback_t, steps(0, 6)) << "on_step is called after every step, with its index";
  ASSERT_EQ(r.callback_x.size(), r.step_out.size()) << "one on_step call per step";
  bool previous = !r.callback_x.empty();
  for (std::size_t i = 0; i < r.callback_x.size(); ++i)
    previous = previous && torch::equal(r.callback_x[i], r.step_x[i]) && !torch::equal(r.step_x[i], r.step_out[i]);
  if (previous) ADD_FAILURE() << "likely mistake: on_step gets the previous sample, not the step's result";
  for (std::size_t i = 0; i < r.callback_x.size(); ++i)
    EXPECT_TRUE(torch::equal(r.callback_x[i], r.step_out[i]))
        << "on_step(" << i << ", x) gets step " << i << "'s result";
  EXPECT_TRUE(matches_plain_loop(x, x0, 6, r.noise_seed));
  // Without a callback the chain runs the same.
  Recorder quiet;
  auto y = q_chain(quiet.step(), x0, 6, quiet.noise());
  EXPECT_TRUE(torch::equal(y, x)) << "on_step is optional (nullptr) and does not change the result";
}

TEST(QChain, ReturnsTheSampleAfterStepTEnd) {
  Recorder r;
  auto x0 = fixed_normal({2, 1, 3, 3}, 906);
  auto x = q_chain(r.step(), x0, 3, r.noise());
  if (torch::equal(x, x0)) ADD_FAILURE() << "likely mistake: returns x0, not the sample after step t_end";
  ASSERT_FALSE(r.step_out.empty()) << "no step was taken";
  EXPECT_TRUE(torch::equal(x, r.step_out.back())) << "q_chain returns the last step's result";
  EXPECT_EQ(x.sizes(), x0.sizes()) << "x0's shape";
  EXPECT_TRUE(matches_plain_loop(x, x0, 3, r.noise_seed));
}

TEST(QChain, MatchesThePlainLoopAtTheGradersSeed) {
  Recorder r;
  r.noise_seed = 1000 + dm::testing::grade_seed() % 1000;
  const std::int64_t t_end = dm::testing::seeded_steps(1, 0, 40, 910)[0].item<std::int64_t>();
  const std::int64_t B = dm::testing::seeded_steps(1, 1, 5, 911)[0].item<std::int64_t>();
  auto x0 = dm::testing::seeded_normal({B, 1, 3, 3}, 912);
  auto x = q_chain(r.step(), x0, t_end, r.noise());
  EXPECT_EQ(r.step_t, steps(0, t_end)) << "t_end = " << t_end << seed_note();
  EXPECT_TRUE(matches_plain_loop(x, x0, t_end, r.noise_seed)) << seed_note();
}
