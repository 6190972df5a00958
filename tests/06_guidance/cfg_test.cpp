// Exercise 06.2: classifier-free guidance's mix, in Ho & Salimans' w and in guidance_scale.
// Checks that the strength that removes guidance gives eps_c exactly in each convention (w = 0, s = 1),
// the mix at several strengths in each, that the conventions agree at s = w + 1, and names the mix-ups:
// a w used as a guidance_scale (and back), eps_c and eps_u swapped, the sign of the extrapolation.
// Run one test: build/default/bin/test_06_exercises --gtest_filter='CfgCombine.*'
#include <gtest/gtest.h>

#include "06_guidance/guidance.hpp"
#include "ch06_reference.hpp"
#include "testing.hpp"

using namespace dm::ch06;
namespace t6 = dm::ch06::test;
using dm::testing::fixed_normal;
using dm::testing::golden;
using dm::testing::tensors_close;

namespace {
// The mistakes of a mix at strength k in convention `conv`, given the right line u + s (c - u).
std::vector<std::pair<std::string, torch::Tensor>> mixups(const torch::Tensor& c, const torch::Tensor& u, double k,
                                                          Convention conv) {
  const double s = conv == Convention::HoSalimansW ? k + 1 : k;
  std::vector<std::pair<std::string, torch::Tensor>> m;
  if (conv == Convention::HoSalimansW)
    m.push_back({"Ho & Salimans' w was used as a guidance_scale: w = 0 must give eps_c, so the scale is w + 1",
                 u + k * (c - u)});
  else
    m.push_back(
        {"a guidance_scale was used as Ho & Salimans' w: s = 1 must give eps_c, so w is s - 1", u + (k + 1) * (c - u)});
  m.push_back({"eps_c and eps_u are swapped: this guides away from the label", c + s * (u - c)});
  m.push_back({"the extrapolation has the wrong sign: it must go past eps_c, away from eps_u", u - s * (c - u)});
  return m;
}
}  // namespace

TEST(CfgCombine, NoGuidanceGivesTheConditionalPrediction) {
  auto c = fixed_normal({4, 1, 5, 5}, 611), u = fixed_normal({4, 1, 5, 5}, 612);
  auto w0 = cfg_combine(c, u, 0.0, Convention::HoSalimansW);
  auto s1 = cfg_combine(c, u, 1.0, Convention::GuidanceScale);
  const bool w0_is_u = torch::allclose(w0, u), s1_is_u = torch::allclose(s1, u), s1_is_c = torch::allclose(s1, c);
  if (w0_is_u && s1_is_u)
    ADD_FAILURE() << "likely mistake: eps_c and eps_u are swapped: the strength of no guidance gave eps_u in both "
                     "conventions (and larger strengths guide away from the label)";
  else if (w0_is_u && s1_is_c)
    ADD_FAILURE() << "likely mistake: w = 0 gave eps_u: w was used as the guidance_scale (w = 0 is the conditional "
                     "model alone)";
  else if (torch::allclose(s1, 2 * c - u))
    ADD_FAILURE() << "likely mistake: guidance_scale 1 gave 2 eps_c - eps_u: the scale was used as w (s = 1 is the "
                     "conditional model alone)";
  EXPECT_TRUE(tensors_close("w = 0", w0, c, 1e-6, 1e-6));
  EXPECT_TRUE(tensors_close("guidance_scale = 1", s1, c, 1e-6, 1e-6));
}

TEST(CfgCombine, MatchesHoSalimansW) {
  auto c = fixed_normal({3, 1, 4, 4}, 613), u = fixed_normal({3, 1, 4, 4}, 614);
  for (double w : {0.5, 1.0, 3.0, 7.5}) {
    auto got = cfg_combine(c, u, w, Convention::HoSalimansW);
    auto expected = (1 + w) * c - w * u;
    t6::name_mistake(t6::diagnose(got, expected, mixups(c, u, w, Convention::HoSalimansW)),
                     " (w = " + std::to_string(w) + ")");
    EXPECT_TRUE(tensors_close("w = " + std::to_string(w), got, expected, 1e-5, 1e-5));
  }
}

TEST(CfgCombine, MatchesGuidanceScale) {
  auto c = fixed_normal({3, 1, 4, 4}, 615), u = fixed_normal({3, 1, 4, 4}, 616);
  for (double s : {1.5, 2.0, 4.0, 8.5}) {
    auto got = cfg_combine(c, u, s, Convention::GuidanceScale);
    auto expected = u + s * (c - u);
    t6::name_mistake(t6::diagnose(got, expected, mixups(c, u, s, Convention::GuidanceScale)),
                     " (s = " + std::to_string(s) + ")");
    EXPECT_TRUE(tensors_close("guidance_scale = " + std::to_string(s), got, expected, 1e-5, 1e-5));
  }
}

TEST(CfgCombine, TheConventionsAgreeAtSEqualToWPlusOne) {
  auto c = fixed_normal({2, 1, 6, 6}, 617), u = fixed_normal({2, 1, 6, 6}, 618);
  for (double w : {0.0, 2.0, 5.0}) {
    auto a = cfg_combine(c, u, w, Convention::HoSalimansW);
    auto b = cfg_combine(c, u, w + 1, Convention::GuidanceScale);
    EXPECT_TRUE(tensors_close("w = " + std::to_string(w) + " vs guidance_scale = w + 1", a, b, 1e-5, 1e-5));
    if (w > 0) {
      EXPECT_FALSE(torch::allclose(a, c)) << "w = " << w << " is not the conditional model";
    }
  }
}

TEST(CfgCombine, KeepsShapeAndDtypeAndMatchesGolden) {
  auto c = fixed_normal({2, 1, 3, 3}, 619), u = fixed_normal({2, 1, 3, 3}, 620);
  auto got = cfg_combine(c, u, 3.0, Convention::HoSalimansW);
  ASSERT_EQ(got.sizes(), c.sizes());
  EXPECT_EQ(got.scalar_type(), torch::kFloat32) << "the guided prediction keeps the inputs' dtype";
  EXPECT_TRUE(golden(t6::kGolden, "cfg_combine/w=3", got, 1e-5, 1e-5));
  EXPECT_TRUE(
      golden(t6::kGolden, "cfg_combine/scale=2.5", cfg_combine(c, u, 2.5, Convention::GuidanceScale), 1e-5, 1e-5));
}
