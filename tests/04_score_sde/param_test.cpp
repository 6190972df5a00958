// Exercise 04.1: converting between eps, x0, v and score predictions.
// Checks the reference values (golden); that each conversion undoes the forward process exactly
// (build x_t = a x0 + s eps from known x0 and eps, then every kind must give back the others),
// naming the usual mistakes (score sign, 1 - alpha_bar for its square root, v's sign, a missing
// 1 / sqrt(alpha_bar)); that every pair of conversions round-trips; and dtypes and shapes.
// Run one test: build/default/bin/test_04_exercises --gtest_filter='Conversions.*'
#include <gtest/gtest.h>

#include <fmt/core.h>

#include "04_score_sde/param.hpp"
#include "ch04_reference.hpp"
#include "testing.hpp"

using namespace dm::ch04;
namespace t4 = dm::ch04::test;
using dm::testing::fixed_normal;
using dm::testing::golden;
using dm::testing::tensors_close;

namespace {

const std::vector<Prediction> kKinds = {Prediction::Eps, Prediction::X0, Prediction::V, Prediction::Score};

// [6, 1] float64: from almost clean to almost pure noise.
torch::Tensor alpha_bars() { return torch::tensor({0.999, 0.9, 0.5, 0.1, 0.01, 1e-4}, torch::kFloat64).view({6, 1}); }

struct Truth {
  torch::Tensor ab, x0, eps, xt, v, score;
};
// x0, eps known; x_t, v and the score built from them (float64).
Truth truth() {
  Truth tr;
  tr.ab = alpha_bars();
  const auto a = tr.ab.sqrt(), s = (1 - tr.ab).sqrt();
  tr.x0 = 3 * fixed_normal({6, 2}, 41).to(torch::kFloat64);
  tr.eps = fixed_normal({6, 2}, 42).to(torch::kFloat64);
  tr.xt = a * tr.x0 + s * tr.eps;
  tr.v = a * tr.eps - s * tr.x0;
  tr.score = -tr.eps / s;
  return tr;
}

}  // namespace

TEST(Conversions, MatchReferenceOnGoldenValues) {
  const auto xt = fixed_normal({6, 2}, 43);
  const auto pred = fixed_normal({6, 2}, 44);
  const auto ab = alpha_bars();
  for (auto k : kKinds) {
    EXPECT_TRUE(golden(t4::kGolden, fmt::format("to_eps/{}", name(k)), to_eps(k, pred, xt, ab), 1e-5, 1e-5));
    EXPECT_TRUE(golden(t4::kGolden, fmt::format("from_eps/{}", name(k)), from_eps(k, pred, xt, ab), 1e-5, 1e-5));
  }
}

TEST(Conversions, ToEpsRecoversTheNoise) {
  const auto tr = truth();
  const auto a = tr.ab.sqrt(), s = (1 - tr.ab).sqrt();
  EXPECT_TRUE(tensors_close("to_eps(eps)", to_eps(Prediction::Eps, tr.eps, tr.xt, tr.ab), tr.eps, 1e-12, 1e-9));
  auto e = to_eps(Prediction::X0, tr.x0, tr.xt, tr.ab);
  auto m = t4::diagnose(
      e, tr.eps,
      {{"x0 -> eps: x_t = sqrt(ab) x0 + sqrt(1 - ab) eps, so eps = (x_t - sqrt(ab) x0) / sqrt(1 - ab)",
        (tr.xt - a * tr.x0) / (1 - tr.ab)},
       {"x0 -> eps: x0 must be scaled by sqrt(alpha_bar) before it is subtracted from x_t", (tr.xt - tr.x0) / s}});
  if (!m.empty()) ADD_FAILURE() << "likely mistake: " << m;
  EXPECT_TRUE(tensors_close("to_eps(x0) = (x_t - a x0) / s", e, tr.eps, 1e-10, 1e-8));
  e = to_eps(Prediction::V, tr.v, tr.xt, tr.ab);
  m = t4::diagnose(
      e, tr.eps,
      {{"v -> eps: the sign of v is a eps - s x0 (Salimans & Ho), so eps = a v + s x_t", -a * tr.v + s * tr.xt},
       {"v -> eps: a and s are swapped; eps = sqrt(ab) v + sqrt(1 - ab) x_t", s * tr.v + a * tr.xt}});
  if (!m.empty()) ADD_FAILURE() << "likely mistake: " << m;
  EXPECT_TRUE(tensors_close("to_eps(v) = a v + s x_t", e, tr.eps, 1e-10, 1e-8));
  e = to_eps(Prediction::Score, tr.score, tr.xt, tr.ab);
  m = t4::diagnose(e, tr.eps,
                   {{"score -> eps has the wrong sign: eps = -sqrt(1 - alpha_bar) score (the score points towards the "
                     "data, the noise away from it)",
                     s * tr.score},
                    {"score -> eps: the factor is sqrt(1 - alpha_bar), not 1 - alpha_bar", -(1 - tr.ab) * tr.score}});
  if (!m.empty()) ADD_FAILURE() << "likely mistake: " << m;
  EXPECT_TRUE(tensors_close("to_eps(score) = -s score", e, tr.eps, 1e-10, 1e-8));
}

TEST(Conversions, FromEpsGivesX0VAndTheScore) {
  const auto tr = truth();
  const auto a = tr.ab.sqrt(), s = (1 - tr.ab).sqrt();
  EXPECT_TRUE(tensors_close("from_eps(eps)", from_eps(Prediction::Eps, tr.eps, tr.xt, tr.ab), tr.eps, 1e-12, 1e-9));
  auto out = from_eps(Prediction::X0, tr.eps, tr.xt, tr.ab);
  auto m = t4::diagnose(
      out, tr.x0,
      {{"eps -> x0: divide by sqrt(alpha_bar) after removing the noise (chapter 03's slip in another guise)",
        tr.xt - s * tr.eps},
       {"eps -> x0: the noise in x_t is sqrt(1 - alpha_bar) eps, not (1 - alpha_bar) eps",
        (tr.xt - (1 - tr.ab) * tr.eps) / a}});
  if (!m.empty()) ADD_FAILURE() << "likely mistake: " << m;
  EXPECT_TRUE(tensors_close("from_eps(x0) = (x_t - s eps) / a", out, tr.x0, 1e-8, 1e-7));
  out = from_eps(Prediction::V, tr.eps, tr.xt, tr.ab);
  m = t4::diagnose(out, tr.v, {{"eps -> v has the wrong sign: v = a eps - s x0", -tr.v}});
  if (!m.empty()) ADD_FAILURE() << "likely mistake: " << m;
  EXPECT_TRUE(tensors_close("from_eps(v) = a eps - s x0", out, tr.v, 1e-8, 1e-7));
  out = from_eps(Prediction::Score, tr.eps, tr.xt, tr.ab);
  m = t4::diagnose(out, tr.score,
                   {{"eps -> score has the wrong sign: eps_theta = -sqrt(1 - alpha_bar) grad log p_t", -tr.score},
                    {"eps -> score: divide by sqrt(1 - alpha_bar), not by 1 - alpha_bar", -tr.eps / (1 - tr.ab)},
                    {"eps -> score: divide by sqrt(1 - alpha_bar), do not multiply", -tr.eps * s}});
  if (!m.empty()) ADD_FAILURE() << "likely mistake: " << m;
  EXPECT_TRUE(tensors_close("from_eps(score) = -eps / s", out, tr.score, 1e-10, 1e-8));
}

TEST(Conversions, EveryPairRoundTrips) {
  const auto xt = fixed_normal({6, 2}, 45).to(torch::kFloat64);
  const auto pred = fixed_normal({6, 2}, 46).to(torch::kFloat64);
  const auto ab = alpha_bars();
  for (auto from : kKinds)
    for (auto to : kKinds) {
      const auto there = convert(from, to, pred, xt, ab);
      const auto back = convert(to, from, there, xt, ab);
      EXPECT_TRUE(
          tensors_close(fmt::format("{} -> {} -> {}", name(from), name(to), name(from)), back, pred, 1e-9, 1e-9));
    }
}

TEST(Conversions, KeepTheDataDtypeAndShape) {
  const auto xt = fixed_normal({6, 2}, 47), pred = fixed_normal({6, 2}, 48);  // float32
  for (auto k : kKinds) {
    const auto e = to_eps(k, pred, xt, alpha_bars()), p = from_eps(k, pred, xt, alpha_bars());
    EXPECT_EQ(e.scalar_type(), torch::kFloat32) << "to_eps(" << name(k) << ") must return x_t's dtype";
    EXPECT_EQ(p.scalar_type(), torch::kFloat32) << "from_eps(" << name(k) << ") must return x_t's dtype";
    EXPECT_EQ(e.sizes(), xt.sizes());
    EXPECT_EQ(p.sizes(), xt.sizes());
  }
  // one alpha_bar for the whole batch, as a 0-dim tensor
  const auto ab = torch::tensor(0.3, torch::kFloat64);
  EXPECT_TRUE(
      tensors_close("0-dim alpha_bar", from_eps(Prediction::Score, pred, xt, ab), -pred / std::sqrt(0.7), 1e-6, 1e-5));
}
