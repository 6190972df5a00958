// Exercise 03.6: one training step of Algorithm 1, driven with small parts: a two-parameter "network"
// eps_theta(x_t, t) = w x_t + b, the reference L_simple written out here, recording draws, a plain SGD
// optimizer and a recording EMA. The expected step is computed here with autograd on the same loss.
// The likeliest mistakes, each named by a test below:
//   - no zero_grad (gradients of the previous step accumulate), or zero_grad after backward()
//   - clipping each parameter on its own instead of the global norm; clipping after the step;
//     no clipping; reporting the norm after clipping
//   - the EMA before the optimizer step, or with step + 1; the EMA not updated
//   - stepping on a NaN loss
//   - drawing t or eps and not passing them to the loss (drawing twice)
// Run one test: build/default/bin/test_03_exercises --gtest_filter='TrainStep.*'
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "03_ddpm/algorithms.hpp"
#include "ch03_reference.hpp"
#include "testing.hpp"

using namespace dm::ch03;
using dm::testing::fixed_normal;
using dm::testing::seed_note;

namespace {

const Schedule& sched() {
  static const Schedule s = test::linear_schedule();
  return s;
}

// L_simple written out: x_t from the closed form, then the mean squared error of the noise.
torch::Tensor reference_loss(const Schedule& s, const EpsModel& eps_theta, const torch::Tensor& x0,
                             const torch::Tensor& t, const torch::Tensor& eps) {
  auto ab = s.alpha_bar.index_select(0, t).view({-1, 1, 1, 1}).to(x0.scalar_type());
  auto x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * eps;
  return (eps - eps_theta(x_t, t)).pow(2).mean();
}

// The parts, with everything they are asked recorded.
struct Harness {
  torch::Tensor w = torch::full({1}, 0.3, torch::kFloat64).requires_grad_();            // [1], float64: exact checks
  torch::Tensor b = torch::full({1, 1, 1, 1}, -0.2, torch::kFloat64).requires_grad_();  // [1, 1, 1, 1]
  double lr = 0.05;
  torch::Tensor t_draw, eps_draw;  // what the draws return
  std::vector<std::string> events;
  torch::Tensor t_seen, eps_seen, x0_seen;
  std::vector<std::int64_t> ema_steps;
  std::vector<double> w_at_ema;
  bool nan_loss = false;

  TrainStepParts parts() {
    TrainStepParts p;
    p.eps_theta = [this](const torch::Tensor& x, const torch::Tensor&) { return w * x + b; };
    p.params = {w, b};
    p.loss = [this](const Schedule& s, const EpsModel& m, const torch::Tensor& x0, const torch::Tensor& t,
                    const torch::Tensor& eps) {
      events.push_back("loss");
      t_seen = t;
      eps_seen = eps;
      x0_seen = x0;
      auto l = reference_loss(s, m, x0, t, eps);
      return nan_loss ? l * std::numeric_limits<double>::quiet_NaN() : l;
    };
    p.draws.timesteps = [this](std::int64_t batch, std::int64_t T) {
      events.push_back("timesteps(" + std::to_string(batch) + ", " + std::to_string(T) + ")");
      return t_draw;
    };
    p.draws.noise = [this](const torch::Tensor& x0) {
      events.push_back("noise");
      return eps_draw.to(x0.scalar_type());
    };
    p.zero_grad = [this] {
      events.push_back("zero_grad");
      for (auto* q : {&w, &b})
        if (q->grad().defined()) q->grad().zero_();
    };
    p.optimizer_step = [this] {
      events.push_back("optimizer_step");
      torch::NoGradGuard g;
      for (auto* q : {&w, &b})
        if (q->grad().defined()) q->sub_(lr * q->grad());
    };
    p.update_ema = [this](std::int64_t step) {
      events.push_back("update_ema");
      ema_steps.push_back(step);
      w_at_ema.push_back(w.item<double>());
    };
    return p;
  }
};

struct Expected {
  double w, b, norm, loss, scale;
};

// The reference step from the harness's current weights: autograd on the reference loss, the global
// norm, torch's clipping rule, one SGD step.
Expected expected_step(const Harness& h, const torch::Tensor& x0, double max_norm) {
  auto w = h.w.detach().clone().requires_grad_(), b = h.b.detach().clone().requires_grad_();
  EpsModel m = [&](const torch::Tensor& x, const torch::Tensor&) { return w * x + b; };
  auto loss = reference_loss(sched(), m, x0, h.t_draw, h.eps_draw);
  loss.backward();
  const double gw = w.grad().item<double>(), gb = b.grad().item<double>();
  const double norm = std::sqrt(gw * gw + gb * gb);
  const double scale = std::min(1.0, max_norm / (norm + 1e-6));
  return {w.item<double>() - h.lr * scale * gw, b.item<double>() - h.lr * scale * gb, norm, loss.item<double>(), scale};
}

void prepare(Harness& h, std::uint64_t seed) {
  h.t_draw = torch::tensor({5, 120, 487, 990}, torch::kLong);
  h.eps_draw = fixed_normal({4, 1, 3, 3}, seed).to(torch::kFloat64);
}

}  // namespace

TEST(TrainStep, MatchesReferenceOnGoldenValues) {
  Harness h;
  prepare(h, 611);
  auto x0 = fixed_normal({4, 1, 3, 3}, 612).clamp(-1, 1).to(torch::kFloat64);
  auto r = train_step(h.parts(), sched(), x0, /*step=*/7, /*max_grad_norm=*/0.5);
  EXPECT_TRUE(dm::testing::golden(test::kGolden, "train_step/loss_norm_w_b",
                                  std::vector<double>{r.loss, r.grad_norm, h.w.item<double>(), h.b.item<double>()},
                                  1e-6, 1e-5));
}

TEST(TrainStep, TakesOneStepDownTheGradientOfItsLoss) {
  Harness h;
  prepare(h, 613);
  auto x0 = fixed_normal({4, 1, 3, 3}, 614).clamp(-1, 1).to(torch::kFloat64);
  const auto e = expected_step(h, x0, /*max_norm=*/1e6);  // no clipping
  auto r = train_step(h.parts(), sched(), x0, 0, 1e6);
  ASSERT_TRUE(r.stepped) << "a finite loss must give a step (stepped = true)";
  EXPECT_NEAR(r.loss, e.loss, 1e-6 * (1 + e.loss)) << "the result's loss is the batch's loss before the update";
  EXPECT_NEAR(r.grad_norm, e.norm, 1e-5 * e.norm) << "grad_norm is the global L2 norm of all gradients";
  const double w0 = 0.3, b0 = -0.2;
  if (std::abs(h.w.item<double>() - w0) < 1e-12 && std::abs(h.b.item<double>() - b0) < 1e-12)
    ADD_FAILURE() << "likely mistake: the parameters did not move: were the gradients cleared after backward() "
                     "(zero_grad belongs before it), or was the optimizer not stepped?";
  EXPECT_NEAR(h.w.item<double>(), e.w, 1e-6) << "w after one SGD step of lr " << h.lr;
  EXPECT_NEAR(h.b.item<double>(), e.b, 1e-6) << "b after one SGD step of lr " << h.lr;
}

TEST(TrainStep, ClipsTheGlobalGradientNorm) {
  Harness h;
  prepare(h, 615);
  auto x0 = fixed_normal({4, 1, 3, 3}, 616).clamp(-1, 1).to(torch::kFloat64);
  const auto e = expected_step(h, x0, /*max_norm=*/1e-3);
  ASSERT_LT(e.scale, 0.1) << "the test needs a clipped step";
  const double w0 = h.w.item<double>(), b0 = h.b.item<double>();
  auto r = train_step(h.parts(), sched(), x0, 0, 1e-3);
  const double dw = h.w.item<double>() - w0, db = h.b.item<double>() - b0;
  const double ew = e.w - w0, eb = e.b - b0;
  std::string why;
  if (std::abs(dw - ew / e.scale) < 1e-6 * std::abs(ew / e.scale) + 1e-12)
    why =
        "the step is not clipped: scale the gradients by max_grad_norm / norm before the optimizer steps "
        "(clipping after the step changes nothing)";
  else if (std::abs(std::abs(dw) - h.lr * 1e-3) < 1e-9 && std::abs(std::abs(db) - h.lr * 1e-3) < 1e-9)
    why = "each parameter was clipped on its own; clip the global norm of all gradients together";
  if (!why.empty()) ADD_FAILURE() << "likely mistake: " << why;
  if (std::abs(r.grad_norm - 1e-3) < 1e-6)
    ADD_FAILURE() << "likely mistake: grad_norm was measured after clipping; report the norm before it";
  EXPECT_NEAR(dw, ew, 1e-6 * std::abs(ew) + 1e-12) << "the change of w under a global norm of 1e-3";
  EXPECT_NEAR(db, eb, 1e-6 * std::abs(eb) + 1e-12) << "the change of b under a global norm of 1e-3";
  EXPECT_NEAR(r.grad_norm, e.norm, 1e-5 * e.norm) << "grad_norm is the norm before clipping";
}

TEST(TrainStep, StartsEveryStepFromFreshGradients) {
  Harness h;
  prepare(h, 617);
  auto x0 = fixed_normal({4, 1, 3, 3}, 618).clamp(-1, 1).to(torch::kFloat64);
  auto parts = h.parts();
  train_step(parts, sched(), x0, 0, 1e6);
  const auto e = expected_step(h, x0, 1e6);  // from the weights after the first step
  const double w1 = h.w.item<double>();
  train_step(parts, sched(), x0, 1, 1e6);
  // With accumulated gradients, the second step's gradient is the sum of both steps' gradients.
  if (std::abs(h.w.item<double>() - e.w) > 1e-6) {
    const bool zeroed = std::find(h.events.begin(), h.events.end(), "zero_grad") != h.events.end();
    const bool moved = std::abs(h.w.item<double>() - w1) > 1e-12;
    ADD_FAILURE() << "likely mistake: "
                  << (!zeroed ? "the gradients accumulate across steps: call zero_grad before backward()"
                      : moved ? "the gradients were cleared at the wrong moment: clear them before backward()"
                              : "the parameters did not move: were the gradients cleared after backward()?");
  }
  EXPECT_NEAR(h.w.item<double>(), e.w, 1e-6) << "w after the second step";
  EXPECT_NEAR(h.b.item<double>(), e.b, 1e-6) << "b after the second step";
}

TEST(TrainStep, UpdatesTheEmaOnceAfterTheOptimizerWithItsStepNumber) {
  Harness h;
  prepare(h, 619);
  auto x0 = fixed_normal({4, 1, 3, 3}, 620).clamp(-1, 1).to(torch::kFloat64);
  train_step(h.parts(), sched(), x0, /*step=*/41, 1e6);
  ASSERT_EQ(h.ema_steps.size(), 1u) << "update_ema must be called exactly once per step";
  EXPECT_EQ(h.ema_steps[0], 41) << (h.ema_steps[0] == 42 ? "likely mistake: update_ema got step + 1; pass the step "
                                                           "number as given (the updates done before this one)"
                                                         : "update_ema gets the step number as given");
  EXPECT_NEAR(h.w_at_ema[0], h.w.item<double>(), 1e-12)
      << "likely mistake: the EMA was updated before the optimizer step: it must average the new weights";
}

TEST(TrainStep, PassesItsDrawsToTheLoss) {
  Harness h;
  prepare(h, 621);
  auto x0 = fixed_normal({4, 1, 3, 3}, 622).clamp(-1, 1).to(torch::kFloat64);
  train_step(h.parts(), sched(), x0, 0, 1e6);
  int t_calls = 0, noise_calls = 0;
  for (const auto& ev : h.events) {
    t_calls += ev.rfind("timesteps", 0) == 0;
    noise_calls += ev == "noise";
  }
  EXPECT_EQ(t_calls, 1) << "draw the timesteps once per step";
  EXPECT_EQ(noise_calls, 1) << "draw the noise once per step";
  EXPECT_NE(std::find(h.events.begin(), h.events.end(), "timesteps(4, 1000)"), h.events.end())
      << "the timesteps are drawn for the batch size and the schedule's T: timesteps(B, T)";
  ASSERT_TRUE(h.t_seen.defined() && h.eps_seen.defined()) << "the loss was never evaluated";
  EXPECT_TRUE(torch::equal(h.t_seen, h.t_draw)) << "the loss must get the drawn timesteps";
  EXPECT_TRUE(torch::equal(h.eps_seen, h.eps_draw)) << "the loss must get the drawn noise";
  EXPECT_TRUE(torch::equal(h.x0_seen, x0)) << "the loss must get the minibatch x0";
}

TEST(TrainStep, ANonFiniteLossUpdatesNothing) {
  Harness h;
  prepare(h, 623);
  h.nan_loss = true;
  auto x0 = fixed_normal({4, 1, 3, 3}, 624).clamp(-1, 1).to(torch::kFloat64);
  auto r = train_step(h.parts(), sched(), x0, 0, 1.0);
  EXPECT_FALSE(r.stepped) << "a NaN loss must stop the step (stepped = false)";
  EXPECT_TRUE(std::isnan(r.loss)) << "the result reports the NaN loss";
  for (const auto& ev : h.events) {
    EXPECT_NE(ev, "optimizer_step") << "likely mistake: the optimizer stepped on a NaN loss";
    EXPECT_NE(ev, "update_ema") << "likely mistake: the EMA was updated on a NaN loss";
  }
  EXPECT_EQ(h.w.item<double>(), 0.3) << "the weights must not change on a NaN loss";
}

TEST(TrainStep, TakesTheReferenceStepAtTheGradersSeed) {
  Harness h;
  const std::int64_t B = 2 + dm::testing::seeded_steps(1, 0, 4, 630)[0].item<std::int64_t>();
  h.t_draw = dm::testing::seeded_steps(B, 0, 999, 631);
  h.eps_draw = dm::testing::seeded_normal({B, 1, 3, 3}, 632).to(torch::kFloat64);
  h.lr = dm::testing::seeded_scalar(633, 0.01, 0.2);
  auto x0 = dm::testing::seeded_uniform({B, 1, 3, 3}, 634, -1, 1).to(torch::kFloat64);
  const double max_norm = dm::testing::seeded_scalar(635, 1e-3, 0.05);  // clipped at these draws
  const auto e = expected_step(h, x0, max_norm);
  auto r = train_step(h.parts(), sched(), x0, 3, max_norm);
  EXPECT_NEAR(r.loss, e.loss, 1e-6 * (1 + e.loss)) << "the batch's loss" << seed_note();
  EXPECT_NEAR(r.grad_norm, e.norm, 1e-5 * e.norm) << "the global gradient norm before clipping" << seed_note();
  EXPECT_NEAR(h.w.item<double>(), e.w, 1e-6) << "w after the clipped step" << seed_note();
  EXPECT_NEAR(h.b.item<double>(), e.b, 1e-6) << "b after the clipped step" << seed_note();
}
