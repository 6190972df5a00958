// Exercise 03.7: the ancestral sampler (Algorithm 2), driven with recording fakes: a "network" that
// returns a known function of its input, a reverse step that is a known affine map, and numbered noise.
// The expected sample comes from the same loop written out here.
// The likeliest mistakes, each named by a test below:
//   - the loop stops at t = 1 (no last step), starts at T, or runs upwards
//   - the network always sees x_T (the sample is not carried from step to step)
//   - the network gets t + 1 or t - 1, or a timestep tensor of the wrong shape or dtype
//   - the step gets the wrong eps or the noise of another step; noise drawn once for all steps
//   - on_step not called, or called with x_t instead of the step's result
// Run one test: build/default/bin/test_03_exercises --gtest_filter='PSampleLoop.*'
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "03_ddpm/algorithms.hpp"
#include "ch03_reference.hpp"
#include "testing.hpp"

using namespace dm::ch03;
using dm::testing::fixed_normal;
using dm::testing::seed_note;

namespace {

// Every call each part receives, in order.
struct Recorder {
  std::vector<std::int64_t> model_t, step_t, noise_t, callback_t;
  std::vector<torch::Tensor> model_x, step_x, step_eps, step_z, callback_x;
  std::vector<std::string> bad_t;  // malformed timestep tensors
  std::uint64_t noise_seed = 700;

  // eps_theta(x, t) = 0.1 x + 0.001 t: depends on both, so a wrong x or t shows.
  EpsModel model() {
    return [this](const torch::Tensor& x, const torch::Tensor& t) {
      if (t.scalar_type() != torch::kLong || t.dim() != 1 || t.size(0) != x.size(0))
        bad_t.push_back("a [B] int64 tensor");
      else if (t.min().item<std::int64_t>() != t.max().item<std::int64_t>())
        bad_t.push_back("one timestep for the whole batch");
      const auto tv = t.numel() > 0 ? t.flatten()[0].item<std::int64_t>() : -99;
      model_t.push_back(tv);
      model_x.push_back(x.clone());
      return 0.1 * x + 0.001 * static_cast<double>(tv);
    };
  }
  // x_prev = 0.95 x_t - 0.05 eps + 0.02 z, x0_hat = x_t - eps.
  ReverseStepFn step() {
    return [this](const torch::Tensor& x, std::int64_t t, const torch::Tensor& eps, const torch::Tensor& z) {
      step_t.push_back(t);
      step_x.push_back(x.clone());
      step_eps.push_back(eps.clone());
      step_z.push_back(z.clone());
      return ReverseStep{0.95 * x - 0.05 * eps + 0.02 * z, x - eps};
    };
  }
  // The noise of the step at t is fixed_normal(seed + t): each step its own.
  StepNoiseFn noise() {
    return [this](const torch::Tensor& x, std::int64_t t) {
      noise_t.push_back(t);
      return fixed_normal(x.sizes().vec(), noise_seed + static_cast<std::uint64_t>(t));
    };
  }
  SampleCallback callback() {
    return [this](std::int64_t t, const torch::Tensor& x, const torch::Tensor&) {
      callback_t.push_back(t);
      callback_x.push_back(x.clone());
    };
  }
};

// The same loop, written out.
torch::Tensor reference_loop(std::int64_t T, torch::Tensor x, std::uint64_t noise_seed) {
  for (std::int64_t t = T - 1; t >= 0; --t) {
    auto eps = 0.1 * x + 0.001 * static_cast<double>(t);
    auto z = fixed_normal(x.sizes().vec(), noise_seed + static_cast<std::uint64_t>(t));
    x = 0.95 * x - 0.05 * eps + 0.02 * z;
  }
  return x;
}

std::vector<std::int64_t> descending(std::int64_t T) {
  std::vector<std::int64_t> v;
  for (std::int64_t t = T - 1; t >= 0; --t) v.push_back(t);
  return v;
}

std::string order_mistake(const std::vector<std::int64_t>& seen, std::int64_t T) {
  if (seen.empty()) return "no step was taken";
  if (seen.front() == T) return "the loop starts at t = T; the first timestep index is T - 1";
  if (seen.back() == 1) return "the loop stops at t = 1: the last step, at t = 0, is missing";
  if (seen.front() == 0) return "the loop runs upwards; Algorithm 2 goes from T - 1 down to 0";
  return "";
}

}  // namespace

TEST(PSampleLoop, MatchesReferenceOnGoldenValues) {
  Recorder r;
  auto x = p_sample_loop(r.model(), r.step(), 6, fixed_normal({2, 1, 3, 3}, 701), r.noise());
  EXPECT_TRUE(dm::testing::golden(test::kGolden, "p_sample_loop/T=6", x, 1e-6, 1e-5));
}

TEST(PSampleLoop, VisitsEveryTimestepFromTMinusOneDownToZero) {
  Recorder r;
  p_sample_loop(r.model(), r.step(), 8, fixed_normal({2, 1, 3, 3}, 702), r.noise());
  const auto expected = descending(8);
  const auto why = order_mistake(r.step_t, 8);
  if (r.step_t != expected && !why.empty()) ADD_FAILURE() << "likely mistake: " << why;
  EXPECT_EQ(r.step_t, expected) << "the steps' timesteps";
  EXPECT_EQ(r.noise_t, expected) << "every step draws its own noise, for its own t (the last one too)";
}

TEST(PSampleLoop, GivesTheNetworkTheCurrentSampleAndItsTimestep) {
  Recorder r;
  auto x_T = fixed_normal({3, 1, 2, 2}, 703);
  p_sample_loop(r.model(), r.step(), 5, x_T, r.noise());
  ASSERT_EQ(r.model_t.size(), 5u) << "one network call per step";
  EXPECT_TRUE(r.bad_t.empty()) << "eps_theta needs " << (r.bad_t.empty() ? "" : r.bad_t[0]) << " filled with t";
  if (r.model_t == std::vector<std::int64_t>{5, 4, 3, 2, 1})
    ADD_FAILURE() << "likely mistake: the network gets t + 1; give it the timestep index t of x_t";
  EXPECT_EQ(r.model_t, descending(5)) << "the network's timesteps";
  for (std::size_t i = 1; i < r.model_x.size(); ++i) {
    if (torch::allclose(r.model_x[i], x_T)) {
      ADD_FAILURE() << "likely mistake: the network always sees x_T: carry each step's x_prev into the next step";
      break;
    }
    EXPECT_TRUE(torch::allclose(r.model_x[i], r.step_x[i])) << "the network and the step see the same sample";
  }
  ASSERT_EQ(r.step_x.size(), 5u);
  EXPECT_TRUE(torch::equal(r.step_x[0], x_T)) << "the first step starts from x_T";
}

TEST(PSampleLoop, FeedsEachStepItsNetworkOutputAndItsOwnNoise) {
  Recorder r;
  p_sample_loop(r.model(), r.step(), 4, fixed_normal({2, 1, 2, 2}, 704), r.noise());
  ASSERT_EQ(r.step_eps.size(), 4u);
  for (std::size_t i = 0; i < r.step_eps.size(); ++i) {
    const auto t = r.step_t[i];
    auto want_eps = 0.1 * r.step_x[i] + 0.001 * static_cast<double>(t);
    EXPECT_TRUE(torch::allclose(r.step_eps[i], want_eps, 1e-6, 1e-7))
        << "t = " << t << ": the step's eps is the network's output at (x_t, t)";
    auto want_z = fixed_normal(r.step_x[i].sizes().vec(), r.noise_seed + static_cast<std::uint64_t>(t));
    if (i > 0 && torch::equal(r.step_z[i], r.step_z[0]))
      ADD_FAILURE() << "likely mistake: every step gets the same noise; draw fresh noise for each step";
    EXPECT_TRUE(torch::equal(r.step_z[i], want_z)) << "t = " << t << ": the step's z is noise(x_t, t)";
  }
}

TEST(PSampleLoop, ReturnsTheLastStepsSampleAndReportsEveryStep) {
  Recorder r;
  auto x_T = fixed_normal({2, 1, 3, 3}, 705);
  auto x = p_sample_loop(r.model(), r.step(), 7, x_T, r.noise(), r.callback());
  EXPECT_EQ(r.callback_t, descending(7)) << "on_step is called after every step with its t";
  auto want = reference_loop(7, x_T, r.noise_seed);
  if (!r.callback_x.empty() && !r.step_x.empty() && r.callback_x.size() == r.step_x.size() &&
      torch::allclose(r.callback_x.back(), r.step_x.back()))
    ADD_FAILURE() << "likely mistake: on_step got x_t, not the step's result x_prev";
  EXPECT_TRUE(dm::testing::tensors_close("p_sample_loop(T = 7)", x, want, 1e-6, 1e-5));
  if (!r.callback_x.empty()) {
    EXPECT_TRUE(torch::allclose(r.callback_x.back(), x)) << "the last on_step gets x_0";
  }
}

TEST(PSampleLoop, MatchesThePlainLoopAtTheGradersSeed) {
  Recorder r;
  r.noise_seed = 800 + dm::testing::grade_seed() % 1000;
  const std::int64_t T = dm::testing::seeded_steps(1, 2, 40, 710)[0].item<std::int64_t>();
  const std::int64_t B = dm::testing::seeded_steps(1, 1, 5, 711)[0].item<std::int64_t>();
  auto x_T = dm::testing::seeded_normal({B, 1, 3, 3}, 712);
  auto x = p_sample_loop(r.model(), r.step(), T, x_T, r.noise());
  EXPECT_EQ(r.step_t, descending(T)) << "T = " << T << seed_note();
  EXPECT_TRUE(dm::testing::tensors_close("p_sample_loop, T = " + std::to_string(T), x,
                                         reference_loop(T, x_T, r.noise_seed), 1e-6, 1e-5))
      << seed_note();
}
