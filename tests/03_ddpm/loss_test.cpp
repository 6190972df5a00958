// Exercise 03.2: the training loss L_simple.
// Checks the reference value (golden) with a fixed linear "model", a hand computation (a model that
// predicts 0 gives mean(eps^2)), that the model sees x_t = sqrt(alpha_bar) x0 + sqrt(1 - alpha_bar) eps
// and the right t (an oracle that inverts q_sample gets loss 0, naming the usual mistakes), and that
// the loss is differentiable through the model.
// Run one test: build/default/bin/test_03_exercises --gtest_filter='LSimple.*'
#include <gtest/gtest.h>

#include "03_ddpm/ddpm.hpp"
#include "ch03_reference.hpp"
#include "testing.hpp"

using namespace dm::ch03;
using dm::testing::fixed_normal;
using dm::testing::golden;

namespace {
const Schedule& sched() {
  static const Schedule s = test::linear_schedule();
  return s;
}
torch::Tensor gather4(const torch::Tensor& c, const torch::Tensor& t) {
  return c.index_select(0, t).view({-1, 1, 1, 1}).to(torch::kFloat32);
}
}  // namespace

TEST(LSimple, MatchesReferenceOnGoldenValues) {
  auto x0 = fixed_normal({4, 1, 5, 5}, 31).clamp(-1, 1);
  auto eps = fixed_normal({4, 1, 5, 5}, 32);
  auto t = torch::tensor({0, 100, 487, 999}, torch::kLong);
  EpsModel model = [](const torch::Tensor& x, const torch::Tensor& tt) {
    return 0.7 * x + 1e-3 * tt.to(torch::kFloat32).view({-1, 1, 1, 1});
  };
  auto loss = l_simple(sched(), model, x0, t, eps);
  EXPECT_EQ(loss.dim(), 0) << "the loss must be a scalar (the mean over batch and pixels)";
  EXPECT_TRUE(golden(test::kGolden, "l_simple/linear_model", loss.reshape({1}), 1e-5, 1e-5));
}

TEST(LSimple, ZeroModelGivesMeanSquaredNoise) {
  auto x0 = fixed_normal({3, 1, 4, 4}, 33);
  auto eps = fixed_normal({3, 1, 4, 4}, 34);
  EpsModel zero = [](const torch::Tensor& x, const torch::Tensor&) { return torch::zeros_like(x); };
  auto loss = l_simple(sched(), zero, x0, torch::tensor({1, 2, 3}, torch::kLong), eps).item<double>();
  const double expected = eps.to(torch::kFloat64).pow(2).mean().item<double>();
  EXPECT_NEAR(loss, expected, 1e-6) << "L_simple is the MEAN of (eps - eps_theta)^2 over every element";
  EXPECT_FALSE(std::abs(loss - expected * 48) < 1e-4) << "the loss is summed, not averaged";
}

TEST(LSimple, ModelSeesXtFromTheClosedFormAndItsTimestep) {
  // An oracle that knows x0 inverts x_t = sqrt(ab) x0 + sqrt(1 - ab) eps exactly: loss 0.
  auto x0 = fixed_normal({4, 1, 4, 4}, 35).clamp(-1, 1);
  auto eps = fixed_normal({4, 1, 4, 4}, 36);
  auto t = torch::tensor({3, 250, 600, 990}, torch::kLong);
  const auto& s = sched();
  torch::Tensor seen_t;
  EpsModel oracle = [&](const torch::Tensor& x, const torch::Tensor& tt) {
    seen_t = tt;
    return (x - gather4(s.alpha_bar.sqrt(), tt) * x0) / gather4((1 - s.alpha_bar).sqrt(), tt);
  };
  const double loss = l_simple(s, oracle, x0, t, eps).item<double>();
  ASSERT_TRUE(seen_t.defined());
  EXPECT_TRUE(torch::equal(seen_t.cpu(), t)) << "pass the same t to the model that you used to noise x0";
  // which wrong x_t would explain a non-zero loss?
  auto x_t_of = [&](const torch::Tensor& a, const torch::Tensor& b) {
    return gather4(a, t) * x0 + gather4(b, t) * eps;
  };
  auto x_ok = x_t_of(s.alpha_bar.sqrt(), (1 - s.alpha_bar).sqrt());
  const std::vector<std::pair<std::string, torch::Tensor>> mistakes = {
      {"x0 is scaled by alpha_bar_t instead of sqrt(alpha_bar_t)", x_t_of(s.alpha_bar, (1 - s.alpha_bar).sqrt())},
      {"eps is scaled by 1 - alpha_bar_t instead of sqrt(1 - alpha_bar_t)",
       x_t_of(s.alpha_bar.sqrt(), 1 - s.alpha_bar)},
      {"alpha_t is used where alpha_bar_t belongs", x_t_of(s.alpha.sqrt(), (1 - s.alpha).sqrt())}};
  torch::Tensor seen_x;
  EpsModel spy = [&](const torch::Tensor& x, const torch::Tensor&) {
    seen_x = x;
    return torch::zeros_like(x);
  };
  l_simple(s, spy, x0, t, eps);
  const auto slip = test::diagnose(seen_x, x_ok, mistakes);
  EXPECT_TRUE(slip.empty()) << slip;
  EXPECT_NEAR(loss, 0.0, 1e-8) << "the model must see x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps";
}

TEST(LSimple, IsDifferentiableThroughTheModel) {
  auto w = torch::full({1}, 0.5, torch::TensorOptions().requires_grad(true));
  EpsModel model = [&](const torch::Tensor& x, const torch::Tensor&) { return w * x; };
  auto x0 = fixed_normal({2, 1, 3, 3}, 37);
  auto eps = fixed_normal({2, 1, 3, 3}, 38);
  auto loss = l_simple(sched(), model, x0, torch::tensor({10, 900}, torch::kLong), eps);
  loss.backward();
  ASSERT_TRUE(w.grad().defined()) << "do not detach the model's output or wrap the loss in NoGradGuard";
  EXPECT_GT(std::abs(w.grad().item<double>()), 1e-6);
}
