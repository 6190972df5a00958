// Exercise 03.1: the sinusoidal timestep embedding.
// Checks the reference values (golden), the layout (sines then cosines, t = 0 gives [0...0, 1...1],
// the first frequency is 1), that every (sin, cos) pair lies on the unit circle, that the inner
// product of two embeddings depends only on the difference of the timesteps (the property that
// makes it a position encoding), and agreement with the course U-Net's own embedding.
// Run one test: build/default/bin/test_03_exercises --gtest_filter='Embedding.*'
#include <gtest/gtest.h>

#include "03_ddpm/ddpm.hpp"
#include "ch03_reference.hpp"
#include "dm/nn/unet.hpp"
#include "testing.hpp"

using namespace dm::ch03;
using dm::testing::golden;
using dm::testing::tensors_close;

TEST(Embedding, MatchesReferenceOnGoldenValues) {
  auto t = torch::tensor({0, 1, 17, 250, 999}, torch::kLong);
  auto e = sinusoidal_embedding(t, 16);
  ASSERT_EQ(e.sizes(), (std::vector<std::int64_t>{5, 16}));
  EXPECT_EQ(e.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(golden(test::kGolden, "embedding/dim=16", e, 1e-5, 1e-5));
  EXPECT_TRUE(golden(test::kGolden, "embedding/dim=6,max_period=100", sinusoidal_embedding(t, 6, 100.0), 1e-5, 1e-5));
}

TEST(Embedding, SinesFirstThenCosines) {
  auto e = sinusoidal_embedding(torch::tensor({0, 3}, torch::kLong), 8);
  auto expected0 = torch::tensor({0.f, 0.f, 0.f, 0.f, 1.f, 1.f, 1.f, 1.f});
  EXPECT_TRUE(tensors_close("emb(t = 0) = [sin 0..., cos 0...]", e[0], expected0, 1e-6, 0))
      << "at t = 0 every sine is 0 and every cosine is 1; if you see the cosines first, swap the halves";
  // the first frequency is max_period^0 = 1: emb(3)[0] = sin(3), emb(3)[4] = cos(3)
  EXPECT_NEAR(e[1][0].item<double>(), std::sin(3.0), 1e-6) << "the first frequency must be 1 (i = 0)";
  EXPECT_NEAR(e[1][4].item<double>(), std::cos(3.0), 1e-6);
  // the last frequency is max_period^(-(half-1)/half), not max_period^-1
  const double f_last = std::pow(10000.0, -3.0 / 4.0);
  EXPECT_NEAR(e[1][3].item<double>(), std::sin(3.0 * f_last), 1e-6)
      << "freq_i = max_period^(-i / half) for i = 0..half-1 (divide by half, not by half - 1)";
}

TEST(Embedding, EveryPairLiesOnTheUnitCircle) {
  auto t = torch::arange(0, 1000, 37, torch::kLong);
  auto e = sinusoidal_embedding(t, 32).to(torch::kFloat64);
  auto r2 = e.slice(1, 0, 16).pow(2) + e.slice(1, 16, 32).pow(2);  // sin^2 + cos^2 per frequency
  EXPECT_TRUE(tensors_close("sin^2 + cos^2", r2, torch::ones_like(r2), 1e-5, 0));
}

TEST(Embedding, InnerProductDependsOnlyOnTheTimeDifference) {
  // <emb(t), emb(t + k)> = sum_i cos(k freq_i), the same for every t
  auto a = sinusoidal_embedding(torch::tensor({5, 200, 731}, torch::kLong), 64).to(torch::kFloat64);
  auto b = sinusoidal_embedding(torch::tensor({12, 207, 738}, torch::kLong), 64).to(torch::kFloat64);
  auto dots = (a * b).sum(1);
  EXPECT_TRUE(tensors_close("<emb(t), emb(t + 7)>", dots, dots[0].expand({3}), 2e-3, 0));
}
