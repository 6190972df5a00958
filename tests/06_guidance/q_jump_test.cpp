// Exercise 06.9: q(x_{t'} | x_t), the forward process run on from a noised sample, in one draw (a derivation).
// The truth is the chain of single steps x <- sqrt(alpha_k) x + sqrt(beta_k) z_k, k = t + 1 .. t', on a small
// schedule built here (ch06_inpainting_reference.hpp): q_jump is affine in (x_t, z), so its coefficient of
// x_t is its answer for x_t = 1, z = 0 and its noise's scale its answer for x_t = 0, z = 1; those are checked
// against the chain's, by a loop over the steps. Then against the chain itself, run step by step on 20000
// draws (means and variances at 5 standard errors of their differences); that a jump t -> u followed by
// u -> v has the law of the jump t -> v; that a jump of zero levels gives x_t back; x_t's shape and dtype.
// Names the slips: x_t treated as a clean image, one step's alpha, the ratio inverted, the mean's factor
// without its square root, the noise scaled by 1 - sqrt(r) or by the variance 1 - r, step t included.
// Run one test: build/default/bin/test_06_exercises --gtest_filter='QJump.*'
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "06_guidance/inpainting.hpp"
#include "ch06_inpainting_reference.hpp"
#include "ch06_reference.hpp"
#include "testing.hpp"

using namespace dm::ch06;
namespace t6 = dm::ch06::test;
using dm::testing::fixed_normal;
using dm::testing::mc_tol;
using dm::testing::tensors_close;

namespace {
using Levels = std::vector<std::pair<std::int64_t, std::int64_t>>;

const char* kClean =
    "x_t was treated as a clean image (alpha_bar[t_to] alone, as q_sample from the data would): the steps "
    "0..t are already in x_t, only those after t act on it";
const char* kOneAlpha =
    "one step's alpha (alpha[t_to]) was used: a jump of several levels keeps what every step after t keeps, "
    "together";
const char* kInverted =
    "the ratio is inverted (alpha_bar[t] / alpha_bar[t_to]): above 1, so the noise's scale is the square root "
    "of a negative number";
const char* kNoSqrtMean =
    "the mean's factor is missing its square root: x_t was scaled by r, the fraction of its variance kept, "
    "not by the fraction of its standard deviation";
const char* kOneMinusSqrt =
    "the noise was scaled by 1 - sqrt(r) (r the fraction of x_t's variance kept): the variances of the two "
    "parts add up to 1, not their standard deviations";
const char* kNoiseVariance = "the noise was scaled by the variance 1 - r it adds, not by its square root";
const char* kOneTooMany =
    "the product includes step t itself (one step too many): x_t is already at level t, so only the steps "
    "t + 1 .. t_to act on it";

// q_jump's coefficient of x_t and its noise's scale, read off its answers for (x_t, z) = (1, 0) and (0, 1).
t6::Coefficients measured(const Schedule& s, std::int64_t t, std::int64_t t_to) {
  auto one = torch::ones({1, 1}, torch::kFloat64), zero = torch::zeros({1, 1}, torch::kFloat64);
  return {q_jump(s, one, t, t_to, zero).item<double>(), q_jump(s, zero, t, t_to, one).item<double>()};
}

// What the slips would measure (a NaN in one coefficient shows in both, as 0 * NaN does).
std::vector<std::pair<std::string, torch::Tensor>> jump_slips(const Schedule& s, const Levels& levels) {
  auto ab = [&](std::int64_t l) { return s.alpha_bar[l].item<double>(); };
  auto al = [&](std::int64_t l) { return s.alpha[l].item<double>(); };
  auto coeffs = [&](auto f) {
    std::vector<double> v;
    for (const auto& [t, t_to] : levels) {
      const auto [a, b] = f(t, t_to);
      v.push_back(a + 0 * b);
      v.push_back(0 * a + b);
    }
    return torch::tensor(v, torch::kFloat64);
  };
  using P = std::pair<double, double>;
  return {
      {kClean, coeffs([&](auto, auto u) {
         return P{std::sqrt(ab(u)), std::sqrt(1 - ab(u))};
       })},
      {kOneAlpha, coeffs([&](auto, auto u) {
         return P{std::sqrt(al(u)), std::sqrt(1 - al(u))};
       })},
      {kInverted, coeffs([&](auto t, auto u) {
         return P{std::sqrt(ab(t) / ab(u)), std::sqrt(1 - ab(t) / ab(u))};
       })},
      {kNoSqrtMean, coeffs([&](auto t, auto u) {
         return P{ab(u) / ab(t), std::sqrt(1 - ab(u) / ab(t))};
       })},
      {kOneMinusSqrt, coeffs([&](auto t, auto u) {
         return P{std::sqrt(ab(u) / ab(t)), 1 - std::sqrt(ab(u) / ab(t))};
       })},
      {kNoiseVariance, coeffs([&](auto t, auto u) {
         return P{std::sqrt(ab(u) / ab(t)), 1 - ab(u) / ab(t)};
       })},
      {kOneTooMany, coeffs([&](auto t, auto u) {
         const double r = ab(u) / ab(t) * al(t);
         return P{std::sqrt(r), std::sqrt(1 - r)};
       })},
  };
}

std::string describe(const Levels& levels) {
  std::string out;
  for (const auto& [t, t_to] : levels)
    out += (out.empty() ? "" : ", ") + std::to_string(t) + " -> " + std::to_string(t_to);
  return out;
}
}  // namespace

TEST(QJump, MatchesTheChainOfSingleSteps) {
  const auto s = t6::small_schedule();
  const Levels levels = {{1, 8}, {0, 3}, {4, 9}, {2, 3}, {5, 7}, {0, 9}, {6, 9}};
  std::vector<double> got, want;
  for (const auto& [t, t_to] : levels) {
    const auto m = measured(s, t, t_to);
    const auto c = t6::chain_coefficients(s, t, t_to);
    got.insert(got.end(), {m.a, m.b});
    want.insert(want.end(), {c.a, c.b});
  }
  auto g = torch::tensor(got, torch::kFloat64), w = torch::tensor(want, torch::kFloat64);
  t6::name_mistake(t6::diagnose(g, w, jump_slips(s, levels), 1e-6, 1e-9));
  EXPECT_TRUE(
      tensors_close("(coefficient of x_t, scale of the noise) of the jumps " + describe(levels), g, w, 1e-9, 1e-7));
  // a whole draw, x_t and z of several images at once
  auto x = fixed_normal({3, 1, 2, 2}, 6901).to(torch::kFloat64),
       z = fixed_normal({3, 1, 2, 2}, 6902).to(torch::kFloat64);
  const auto c = t6::chain_coefficients(s, 1, 8);
  EXPECT_TRUE(tensors_close("q_jump(x_t, 1 -> 8, z)", q_jump(s, x, 1, 8, z), c.a * x + c.b * z, 1e-9, 1e-7));
}

TEST(QJump, HasTheChainsMeanAndVarianceInMonteCarlo) {
  const auto s = t6::small_schedule();
  const std::int64_t n = 20000, t = 2, t_to = 8;
  auto start = torch::tensor({-1.5, 0.2, 2.0}, torch::kFloat64);
  auto x_t = start.view({1, 3}).expand({n, 3}).contiguous();
  auto jumped = q_jump(s, x_t, t, t_to, fixed_normal({n, 3}, 6903).to(torch::kFloat64)).to(torch::kFloat64);
  auto chain = x_t.clone();
  for (std::int64_t k = t + 1; k <= t_to; ++k)  // the forward chain, one step at a time, each with its own noise
    chain = std::sqrt(s.alpha[k].item<double>()) * chain +
            std::sqrt(s.beta[k].item<double>()) *
                fixed_normal({n, 3}, 6904 + static_cast<std::uint64_t>(k)).to(torch::kFloat64);
  ASSERT_EQ(jumped.sizes(), chain.sizes());
  for (std::int64_t j = 0; j < 3; ++j) {
    const auto a = jumped.select(1, j), b = chain.select(1, j);
    const double ma = a.mean().item<double>(), mb = b.mean().item<double>();
    const double va = a.var().item<double>(), vb = b.var().item<double>();
    const auto where = "x_8 given x_2 = " + std::to_string(start[j].item<double>());
    EXPECT_NEAR(ma, mb, mc_tol(std::sqrt(va + vb), n)) << where << ": the mean of q_jump's draws against the chain's";
    EXPECT_NEAR(va, vb, mc_tol(std::sqrt(2 * (va * va + vb * vb)), n))
        << where << ": the variance of q_jump's draws against the chain's";
  }
}

TEST(QJump, ComposesTwoJumpsIntoOne) {
  const auto s = t6::small_schedule();
  const std::vector<std::array<std::int64_t, 3>> triples = {{1, 4, 8}, {0, 5, 9}, {2, 3, 7}};
  for (const auto& [t, u, v] : triples) {
    const auto tu = measured(s, t, u), uv = measured(s, u, v), tv = measured(s, t, v);
    const auto what = std::to_string(t) + " -> " + std::to_string(u) + " then " + std::to_string(u) + " -> " +
                      std::to_string(v) + " has the law of one jump " + std::to_string(t) + " -> " + std::to_string(v);
    EXPECT_NEAR(tu.a * uv.a, tv.a, 1e-9) << what << ": the factors of x_t multiply";
    EXPECT_NEAR(uv.a * uv.a * tu.b * tu.b + uv.b * uv.b, tv.b * tv.b, 1e-9)
        << what << ": the first jump's noise variance, scaled by the second's factor squared, plus the second's";
  }
}

TEST(QJump, GivesXtBackForAJumpOfZeroLevels) {
  const auto s = t6::small_schedule();
  auto x = fixed_normal({2, 1, 3, 3}, 6905), z = fixed_normal({2, 1, 3, 3}, 6906);
  for (std::int64_t t : {0, 4, 9}) {
    auto got = q_jump(s, x, t, t, z);
    const double ab = s.alpha_bar[t].item<double>();
    t6::name_mistake(t6::diagnose(got, x, {{kClean, std::sqrt(ab) * x + std::sqrt(1 - ab) * z}}, 1e-5, 1e-6),
                     " (t = t_to = " + std::to_string(t) + ")");
    EXPECT_TRUE(
        tensors_close("q_jump(x_t, " + std::to_string(t) + " -> " + std::to_string(t) + ", z)", got, x, 1e-6, 1e-6))
        << "a jump of zero levels is no step at all: x_t itself";
  }
}

TEST(QJump, KeepsTheShapeAndDtypeOfXt) {
  const auto s = t6::small_schedule();
  for (auto dt : {torch::kFloat32, torch::kFloat64}) {
    auto x = fixed_normal({4, 1, 2, 3}, 6907).to(dt), z = fixed_normal({4, 1, 2, 3}, 6908).to(dt);
    auto got = q_jump(s, x, 2, 6, z);
    EXPECT_EQ(got.sizes(), x.sizes()) << "x_t's shape";
    EXPECT_EQ(got.scalar_type(), dt) << "x_t's dtype";
  }
  auto x = fixed_normal({5, 2}, 6909);
  EXPECT_EQ(q_jump(s, x, 0, 9, fixed_normal({5, 2}, 6910)).sizes(), x.sizes()) << "[B, 2] in, [B, 2] out";
}

// The argument check stands outside the exercise's block (ungraded).
TEST(QJumpContract, RefusesLevelsOutOfOrderOrOutsideTheSchedule) {
  const auto s = t6::small_schedule();
  auto x = torch::zeros({1, 2});
  EXPECT_THROW(q_jump(s, x, 5, 4, x), std::invalid_argument);
  EXPECT_THROW(q_jump(s, x, -1, 4, x), std::invalid_argument);
  EXPECT_THROW(q_jump(s, x, 2, s.T(), x), std::invalid_argument);
}
