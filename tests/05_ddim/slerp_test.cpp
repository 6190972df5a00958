// Exercise 05.5: spherical interpolation between two noises.
// Checks the end points, the closed form between orthogonal unit vectors, that the norm of
// high-dimensional Gaussian noise is kept along the path (a straight line's midpoint has only
// 1/sqrt(2) of it: named as a mistake), one angle per example, the parallel fallback, golden values.
// Run one test: build/default/bin/test_05_exercises --gtest_filter='Slerp.*'
#include <gtest/gtest.h>

#include <cmath>

#include "05_ddim/ddim.hpp"
#include "ch05_reference.hpp"
#include "testing.hpp"

using namespace dm::ch05;
namespace t5 = dm::ch05::test;
using dm::testing::fixed_normal;
using dm::testing::golden;
using dm::testing::tensors_close;

TEST(Slerp, HitsTheEndPointsAndKeepsShapeAndDtype) {
  auto z0 = fixed_normal({3, 1, 28, 28}, 701);
  auto z1 = fixed_normal({3, 1, 28, 28}, 702);
  auto a = slerp(z0, z1, 0.0), b = slerp(z0, z1, 1.0);
  ASSERT_EQ(a.sizes(), z0.sizes());
  EXPECT_EQ(a.scalar_type(), z0.scalar_type()) << "slerp returns the inputs' dtype";
  EXPECT_TRUE(tensors_close("slerp(z0, z1, 0)", a, z0, 1e-5, 1e-5));
  EXPECT_TRUE(tensors_close("slerp(z0, z1, 1)", b, z1, 1e-5, 1e-5));
}

TEST(Slerp, FollowsTheGreatCircleBetweenOrthogonalVectors) {
  auto e1 = torch::tensor({1.0, 0.0, 0.0}).view({1, 3});
  auto e2 = torch::tensor({0.0, 1.0, 0.0}).view({1, 3});
  const double pi = 3.14159265358979323846;
  for (double alpha : {0.1, 0.25, 0.5, 0.9}) {
    auto expected = torch::tensor({std::cos(alpha * pi / 2), std::sin(alpha * pi / 2), 0.0}).view({1, 3});
    auto got = slerp(e1, e2, alpha);
    const auto hint =
        t5::diagnose(got, expected, {{"this is the straight line (lerp), not slerp", (1 - alpha) * e1 + alpha * e2}});
    if (!hint.empty()) ADD_FAILURE() << "likely mistake: " << hint;
    EXPECT_TRUE(tensors_close("slerp(e1, e2, " + std::to_string(alpha) + ")", got, expected, 1e-6, 1e-6));
  }
}

TEST(Slerp, KeepsTheNormOfHighDimensionalNoise) {
  const std::int64_t B = 8, D = 784;
  auto z0 = fixed_normal({B, D}, 711);
  auto z1 = fixed_normal({B, D}, 712);
  auto n0 = z0.norm(2, 1), n1 = z1.norm(2, 1);
  for (double alpha : {0.25, 0.5, 0.75}) {
    auto got = slerp(z0, z1, alpha);
    auto ratio = got.norm(2, 1) / (0.5 * (n0 + n1));  // [B]
    const double r = ratio.mean().item<double>();
    EXPECT_NEAR(r, 1.0, 0.03) << "alpha = " << alpha << ": |slerp| / |z| must stay near 1 for " << D
                              << "-dimensional noise"
                              << (std::abs(r - std::sqrt(0.5)) < 0.05
                                      ? "; it is 1/sqrt(2) at the midpoint: that is the straight line (lerp)"
                                      : "");
  }
}

TEST(Slerp, UsesOneAnglePerExample) {
  // example 0: orthogonal; example 1: 60 degrees apart
  auto z0 = torch::tensor({1.0, 0.0, 1.0, 0.0}).view({2, 2});
  auto z1 = torch::tensor({0.0, 1.0, 0.5, std::sqrt(3.0) / 2}).view({2, 2});
  const double pi = 3.14159265358979323846;
  auto got = slerp(z0, z1, 0.5);
  auto expected = torch::tensor({std::cos(pi / 4), std::sin(pi / 4), std::cos(pi / 6), std::sin(pi / 6)}).view({2, 2});
  EXPECT_TRUE(tensors_close("slerp per example (angles 90 and 60 degrees)", got, expected, 1e-6, 1e-6))
      << "theta is computed for each example b over its flattened [...] dimensions, not over the whole batch";
}

TEST(Slerp, FallsBackToTheLineForParallelInputs) {
  auto z0 = fixed_normal({2, 5}, 721);
  auto got = slerp(z0, 2 * z0, 0.25);
  ASSERT_FALSE(torch::isnan(got).any().item<bool>()) << "parallel inputs (sin(theta) = 0) must not give NaN";
  EXPECT_TRUE(tensors_close("slerp(z, 2 z, 0.25) = 1.25 z", got, 1.25 * z0, 1e-5, 1e-5));
  auto same = slerp(z0, z0, 0.5);
  ASSERT_FALSE(torch::isnan(same).any().item<bool>()) << "slerp(z, z) must not give NaN";
  EXPECT_TRUE(tensors_close("slerp(z, z, 0.5) = z", same, z0, 1e-5, 1e-5));
}

TEST(Slerp, MatchesReferenceOnGoldenValues) {
  auto z0 = fixed_normal({2, 1, 4, 4}, 731);
  auto z1 = fixed_normal({2, 1, 4, 4}, 732);
  for (double alpha : {0.2, 0.5, 0.8})
    EXPECT_TRUE(golden(t5::kGolden, "slerp/alpha=" + std::to_string(alpha), slerp(z0, z1, alpha), 1e-5, 1e-5));
}
