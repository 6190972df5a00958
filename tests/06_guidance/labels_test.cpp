// Exercise 06.1: the "no label" id and label dropout.
// Checks that the id is one no class uses and the one the U-Net's extra row is for (K), derived from
// K (not written in), that labels are dropped exactly where the draw is below p_uncond (not above),
// that the caller's labels are left alone, the two ends p = 0 and p = 1, and the fraction dropped.
// Run one test: build/default/bin/test_06_exercises --gtest_filter='DropLabels.*'
#include <gtest/gtest.h>

#include "06_guidance/guidance.hpp"
#include "ch06_reference.hpp"
#include "testing.hpp"

using namespace dm::ch06;
namespace t6 = dm::ch06::test;
using dm::testing::fixed_uniform;
using dm::testing::mc_tol;

namespace {
torch::Tensor some_labels(std::int64_t n, std::int64_t K) { return torch::arange(n, torch::kLong) % K; }
}  // namespace

TEST(NullLabel, IsTheIdAfterTheClasses) {
  const auto id10 = null_label(10);
  if (id10 == 9)
    ADD_FAILURE() << "likely mistake: K - 1 is the last class's id (Ankle boot for Fashion-MNIST), not a free one";
  else if (id10 == 0)
    ADD_FAILURE()
        << "likely mistake: the id of \"no label\" is 0, which is a real class (T-shirt/top in Fashion-MNIST)";
  else if (id10 < 0)
    ADD_FAILURE() << "likely mistake: a negative id has no embedding row; the U-Net for K classes has rows 0..K";
  for (std::int64_t K : {10, 1, 3, 1000})
    EXPECT_EQ(null_label(K), K) << "K = " << K
                                << ": the classes use 0..K-1; the free id that the U-Net's row K is for is K";
}

TEST(NullLabel, IsDerivedFromTheNumberOfClasses) {
  const auto a = null_label(3), b = null_label(10), c = null_label(57);
  if (a == b && b == c)
    ADD_FAILURE() << "likely mistake: the id is written in (" << a << "): derive it from num_classes";
  EXPECT_EQ(a, 3);
  EXPECT_EQ(c, 57);
}

TEST(DropLabels, DropsExactlyWhereTheDrawIsBelowP) {
  const std::int64_t K = 10;
  auto y = some_labels(12, K);
  auto u = torch::tensor({0.05, 0.5, 0.09, 0.99, 0.11, 0.0, 0.3, 0.7, 0.095, 0.2, 0.6, 0.01}, torch::kFloat32);
  const double p = 0.1;
  auto got = drop_labels(y, u, p, K);
  auto expected = torch::where(u < p, torch::full_like(y, K), y);
  t6::name_mistake(t6::diagnose(got, expected,
                                {{"labels are dropped where u >= p_uncond: that drops 1 - p_uncond of them",
                                  torch::where(u >= p, torch::full_like(y, K), y)},
                                 {"no label is dropped: replace those whose u < p_uncond", y},
                                 {"every label is dropped", torch::full_like(y, K)},
                                 {"dropped labels became 0, a real class: use null_label(num_classes)",
                                  torch::where(u < p, torch::zeros_like(y), y)}},
                                0, 0));
  ASSERT_EQ(got.sizes(), y.sizes());
  EXPECT_EQ(got.scalar_type(), torch::kLong) << "labels stay int64";
  EXPECT_TRUE(torch::equal(got, expected)) << "got " << got << "\nexpected " << expected;
}

TEST(DropLabels, LeavesTheCallersLabelsAlone) {
  auto y = some_labels(8, 10);
  const auto before = y.clone();
  auto u = torch::zeros({8});
  drop_labels(y, u, 0.5, 10);
  EXPECT_TRUE(torch::equal(y, before)) << "drop_labels wrote into y: build a new tensor (e.g. torch::where), the "
                                          "caller still needs the labels";
}

TEST(DropLabels, KeepsAllAtZeroAndDropsAllAtOne) {
  const std::int64_t K = 7;
  auto y = some_labels(50, K);
  auto u = fixed_uniform({50}, 601, 0.0, 1.0);
  EXPECT_TRUE(torch::equal(drop_labels(y, u, 0.0, K), y)) << "p_uncond = 0 keeps every label";
  EXPECT_TRUE(torch::equal(drop_labels(y, u, 1.0, K), torch::full_like(y, K)))
      << "p_uncond = 1 drops every label (u < 1 always)";
}

TEST(DropLabels, DropsTheFractionPOnAverage) {
  const std::int64_t n = 200000, K = 10;
  auto y = some_labels(n, K);
  auto u = fixed_uniform({n}, 602, 0.0, 1.0);
  const double p = 0.1;
  const double frac = (drop_labels(y, u, p, K) == K).to(torch::kFloat64).mean().item<double>();
  if (std::abs(frac - (1 - p)) < 0.01) ADD_FAILURE() << "likely mistake: 1 - p_uncond of the labels are dropped";
  EXPECT_NEAR(frac, p, mc_tol(std::sqrt(p * (1 - p)), n)) << "the fraction of labels dropped is p_uncond";
}
