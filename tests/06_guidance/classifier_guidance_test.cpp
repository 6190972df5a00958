// Exercise 06.5: classifier guidance in eps units, and the implicit classifier (a derivation).
// Graded on a 2-D Gaussian mixture where everything is exact (ch06_reference.hpp): each class's eps and
// the mixture's eps come from their own densities, the classifier's gradient from finite differences of
// the posterior, so Bayes' rule is never used to compute the truth. Checks that scale 1 turns the
// unconditional eps into the class's eps, that scale 0 changes nothing and the shift is linear in s,
// that eps_c - eps_u gives back the classifier's gradient, and names the slips: a missing
// sqrt(1 - alpha_bar_t), a variance for the standard deviation, the sign, dividing where one multiplies.
// Run one test: build/default/bin/test_06_exercises --gtest_filter='ClassifierGuidance.*'
#include <gtest/gtest.h>

#include <cmath>

#include "06_guidance/guidance.hpp"
#include "ch06_reference.hpp"
#include "testing.hpp"

using namespace dm::ch06;
namespace t6 = dm::ch06::test;
using dm::testing::fixed_normal;
using dm::testing::tensors_close;

namespace {
struct Point {
  t6::Mixture mix = t6::Mixture::three();
  torch::Tensor x = fixed_normal({64, 2}, 651).to(torch::kFloat64) * 2;
  torch::Tensor y = torch::arange(64, torch::kLong) % 3;
};

std::vector<std::pair<std::string, torch::Tensor>> guided_slips(const torch::Tensor& eps, const torch::Tensor& g,
                                                                double ab, double s) {
  return {
      {"the gradient was not scaled by sqrt(1 - alpha_bar_t): eps and the score differ by that factor", eps - s * g},
      {"the gradient was scaled by 1 - alpha_bar_t, a variance: eps units need the standard deviation "
       "sqrt(1 - alpha_bar_t)",
       eps - s * (1 - ab) * g},
      {"the sign: guidance moves the score up the classifier's gradient, so eps moves the other way",
       eps + s * std::sqrt(1 - ab) * g},
      {"divided by sqrt(1 - alpha_bar_t): that turns eps into a score, the other direction",
       eps - s * g / std::sqrt(1 - ab)}};
}
}  // namespace

TEST(ClassifierGuidance, ScaleOneGivesTheClassesOwnEps) {
  Point p;
  for (double ab : {0.9, 0.5, 0.05}) {
    auto eps_u = p.mix.eps_uncond(p.x, ab);
    auto g = p.mix.classifier_grad_fd(p.x, p.y, ab);
    auto got = classifier_guided_eps(eps_u, g, ab, 1.0);
    auto expected = p.mix.eps_cond(p.x, p.y, ab);
    t6::name_mistake(t6::diagnose(got, expected, guided_slips(eps_u, g, ab, 1.0), 1e-5, 1e-7),
                     " (alpha_bar_t = " + std::to_string(ab) + ")");
    EXPECT_TRUE(tensors_close("eps of p(x_t | y) at alpha_bar_t = " + std::to_string(ab), got, expected, 1e-6, 1e-5));
  }
}

TEST(ClassifierGuidance, ScaleZeroChangesNothingAndTheShiftGrowsLinearly) {
  Point p;
  const double ab = 0.3;
  auto eps_u = p.mix.eps_uncond(p.x, ab);
  auto g = p.mix.classifier_grad_fd(p.x, p.y, ab);
  EXPECT_TRUE(tensors_close("s = 0", classifier_guided_eps(eps_u, g, ab, 0.0), eps_u, 1e-9, 1e-9))
      << "s = 0 is the unconditional model";
  auto ec = p.mix.eps_cond(p.x, p.y, ab);
  for (double s : {2.0, 4.0}) {
    auto got = classifier_guided_eps(eps_u, g, ab, s);
    auto expected = eps_u + s * (ec - eps_u);
    t6::name_mistake(t6::diagnose(got, expected, guided_slips(eps_u, g, ab, s), 1e-5, 1e-7));
    EXPECT_TRUE(tensors_close("s = " + std::to_string(s), got, expected, 1e-6, 1e-5));
  }
}

TEST(ImplicitClassifier, IsTheMixturesClassifierGradient) {
  Point p;
  for (double ab : {0.8, 0.2}) {
    auto ec = p.mix.eps_cond(p.x, p.y, ab), eu = p.mix.eps_uncond(p.x, ab);
    auto got = implicit_classifier_grad(ec, eu, ab);
    auto expected = p.mix.classifier_grad_fd(p.x, p.y, ab);
    const double r = std::sqrt(1 - ab);
    t6::name_mistake(
        t6::diagnose(got, expected,
                     {{"the sign: eps_c - eps_u points down the classifier's gradient", (ec - eu) / r},
                      {"not divided by sqrt(1 - alpha_bar_t): eps and the score differ by that factor", -(ec - eu)},
                      {"multiplied by sqrt(1 - alpha_bar_t) where the score divides by it", -(ec - eu) * r},
                      {"divided by 1 - alpha_bar_t, a variance, not its square root", -(ec - eu) / (1 - ab)}},
                     1e-5, 1e-7),
        " (alpha_bar_t = " + std::to_string(ab) + ")");
    EXPECT_TRUE(tensors_close("grad log p(y | x_t) at alpha_bar_t = " + std::to_string(ab), got, expected, 1e-6, 1e-5));
  }
}

TEST(ImplicitClassifier, UndoesClassifierGuidance) {
  auto eps = fixed_normal({5, 1, 3, 3}, 652).to(torch::kFloat64);
  auto g = fixed_normal({5, 1, 3, 3}, 653).to(torch::kFloat64);
  const double ab = 0.6;
  auto guided = classifier_guided_eps(eps, g, ab, 1.0);
  EXPECT_TRUE(tensors_close("implicit_classifier_grad(classifier_guided_eps(eps, g, ab, 1), eps, ab) = g",
                            implicit_classifier_grad(guided, eps, ab), g, 1e-9, 1e-9))
      << "the two directions of Bayes' rule in eps units are each other's inverse";
}
