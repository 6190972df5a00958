// Exercise 03.4: the EMA of the weights, with warmup.
// Checks the decay schedule (warmup values, the cap), one update by hand, k updates against the
// closed form ema_k = p + (ema_0 - p) prod_j decay_j for constant parameters, that the parameters
// are left alone and no autograd graph is built, and the reference values (golden).
// Run one test: build/default/bin/test_03_exercises --gtest_filter='Ema.*'
#include <gtest/gtest.h>

#include "03_ddpm/ddpm.hpp"
#include "ch03_reference.hpp"
#include "testing.hpp"

using namespace dm::ch03;
using dm::testing::fixed_normal;
using dm::testing::golden;
using dm::testing::tensors_close;

TEST(Ema, DecayWarmsUpThenCaps) {
  EXPECT_NEAR(ema_decay(0, 0.9999), 0.1, 1e-12) << "decay(0) = (1 + 0) / (10 + 0) = 0.1";
  EXPECT_NEAR(ema_decay(10, 0.9999), 11.0 / 20.0, 1e-12);
  EXPECT_NEAR(ema_decay(990, 0.9999), 991.0 / 1000.0, 1e-12);
  EXPECT_NEAR(ema_decay(1000000, 0.999), 0.999, 1e-12) << "the decay is capped at max_decay";
  EXPECT_NEAR(ema_decay(5, 0.3), 0.3, 1e-12) << "the cap applies during warmup too";
}

TEST(Ema, OneUpdateByHand) {
  auto e = torch::tensor({1.0, 2.0, -1.0});
  auto p = torch::tensor({3.0, 2.0, 1.0});
  ema_update({e}, {p}, 0.75);
  EXPECT_TRUE(tensors_close("0.75 ema + 0.25 param", e, torch::tensor({1.5, 2.0, -0.5}), 1e-6, 0))
      << "ema <- decay * ema + (1 - decay) * param (decay weighs the OLD average)";
  EXPECT_TRUE(tensors_close("param unchanged", p, torch::tensor({3.0, 2.0, 1.0}), 0, 0));
}

TEST(Ema, KStepsMatchTheClosedForm) {
  auto e0 = fixed_normal({3, 4}, 71), p = fixed_normal({3, 4}, 72);
  auto e1 = fixed_normal({5}, 73), p1 = fixed_normal({5}, 74);
  auto e = e0.clone(), f = e1.clone();
  double prod = 1.0;
  for (std::int64_t k = 0; k < 50; ++k) {
    const double d = ema_decay(k, 0.95);
    prod *= d;
    ema_update({e, f}, {p, p1}, d);
  }
  auto expected = p.to(torch::kFloat64) + (e0.to(torch::kFloat64) - p.to(torch::kFloat64)) * prod;
  EXPECT_TRUE(tensors_close("ema after 50 steps", e, expected, 1e-5, 1e-5))
      << "ema_k = p + (ema_0 - p) * prod_j decay_j when the parameters stay constant";
  EXPECT_TRUE(golden(test::kGolden, "ema/50_steps", torch::cat({e.flatten(), f}), 1e-5, 1e-5));
}

TEST(Ema, BuildsNoAutogradGraph) {
  auto w = torch::ones({3}, torch::TensorOptions().requires_grad(true));
  auto e = torch::zeros({3});
  ema_update({e}, {w * 2}, 0.5);
  EXPECT_FALSE(e.requires_grad()) << "update the average under torch::NoGradGuard and from param.detach()";
  EXPECT_TRUE(tensors_close("ema", e, torch::full({3}, 1.0), 1e-6, 0));
}
