// Exercise 06.7: grad_x log p_phi(y | x_t, t) of a classifier network, by autograd.
// Checks the answer on a linear classifier of images (logits W x + b), whose gradient of log p(y | x) is
// W_y - sum_k p_k W_k in closed form, and on the exact 2-D mixture of ch06_reference.hpp (logits = the log
// joint at alpha_bar_t, so their softmax is the posterior) against finite differences of its posterior;
// that it works under torch::NoGradGuard, as the samplers call it, and leaves the caller's grad mode as it
// was; that the caller's x_t is left alone (values, requires_grad, no .grad) and the result is a plain
// tensor of x_t's shape and dtype; that a sample's gradient ignores the rest of the batch. Names the slips:
// the logit's gradient alone, the gradient of p instead of log p, of the batch mean, of the sum over all
// classes, of the argmax class, a softmax over the batch axis, the sign.
// Run one test: build/default/bin/test_06_exercises --gtest_filter='ClassifierGrad.*'
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "06_guidance/guidance.hpp"
#include "ch06_reference.hpp"
#include "dm/todo.hpp"
#include "testing.hpp"

using namespace dm::ch06;
namespace t6 = dm::ch06::test;
using dm::testing::fixed_normal;
using dm::testing::tensors_close;

namespace {
const char* kLogit =
    "the gradient of the logit f_y alone, not of log p(y | x_t): the gradient of the log-normaliser "
    "(log-sum-exp over the classes) is missing";
const char* kProb = "the gradient of p(y | x_t), not of log p(y | x_t): it comes out p_y times too small";
const char* kMean =
    "the gradient of the batch's mean log-probability: every sample's gradient is 1/B too small (row b is "
    "the gradient of its own log p)";
const char* kAllClasses = "the gradient of log p summed over every class, not of log p of the class y asked for";
const char* kArgmax = "the gradient for the class the classifier prefers (its argmax), not for the class y asked for";
const char* kBatchSoftmax =
    "a softmax over the batch axis (dim 0): log p(y | x_t) normalises over the classes of each sample (dim 1)";
const char* kSign = "the sign: the gradient of log p(y | x_t) points towards class y, this one points away";

// A linear classifier: K = 4 classes of [1, 2, 3] images (D = 6).
t6::LinearClassifier linear() {
  return {fixed_normal({4, 6}, 694).to(torch::kFloat64), fixed_normal({4}, 695).to(torch::kFloat64) * 0.5,
          torch::tensor({-1.0, 0.3, 0.8, -0.4}, torch::kFloat64)};
}

struct Batch {
  torch::Tensor x = fixed_normal({8, 1, 2, 3}, 696).to(torch::kFloat64);
  torch::Tensor t = torch::tensor({5, 900, 250, 10, 640, 480, 999, 77}, torch::kLong);
  torch::Tensor y = torch::tensor({2, 0, 3, 1, 1, 0, 2, 3}, torch::kLong);
};

// What the slips give for the linear classifier, in closed form too.
std::vector<std::pair<std::string, torch::Tensor>> linear_slips(const t6::LinearClassifier& c, const torch::Tensor& x,
                                                                const torch::Tensor& t, const torch::Tensor& y) {
  const auto& W = c.W;
  auto p = c.probs(x, t);  // [B, K]
  auto g = c.grad_log_p(x, t, y).view({x.size(0), -1});
  auto mix = p.matmul(W);                            // sum_k p_k W_k
  auto Wy = W.index_select(0, y);                    // [B, D]
  auto L = c(x.to(torch::kFloat64), t);              // [B, K]
  auto q = torch::softmax(L.index_select(1, y), 0);  // q[c][b]: image c's share of column y_b over the batch
  auto shape = x.sizes();
  return {{kLogit, Wy.view(shape)},
          {kProb, (p.gather(1, y.unsqueeze(1)) * g).view(shape)},
          {kMean, (g / double(x.size(0))).view(shape)},
          {kAllClasses, (W.sum(0) - double(W.size(0)) * mix).view(shape)},
          {kArgmax, (W.index_select(0, p.argmax(1)) - mix).view(shape)},
          {kBatchSoftmax, (Wy - q.matmul(Wy)).view(shape)},
          {kSign, -g.view(shape)}};
}

// Calls classifier_log_prob_grad; a missing exercise still fails as "not implemented", anything else that
// it throws becomes a failure saying what it was.
torch::Tensor call(const ClassifierFn& f, const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y,
                   std::string& error) {
  try {
    return classifier_log_prob_grad(f, x, t, y);
  } catch (const dm::NotImplemented&) {
    throw;
  } catch (const std::exception& e) {
    std::string what = e.what();
    error = what.substr(0, what.find('\n'));
    return {};
  }
}
}  // namespace

TEST(ClassifierGrad, IsTheLinearClassifiersClosedForm) {
  const auto c = linear();
  Batch b;
  auto got = classifier_log_prob_grad(c.fn(), b.x, b.t, b.y);
  auto want = c.grad_log_p(b.x, b.t, b.y);
  t6::name_mistake(t6::diagnose(got, want, linear_slips(c, b.x, b.t, b.y), 1e-6, 1e-8));
  EXPECT_TRUE(tensors_close("grad_x log p(y | x_t, t) = W_y - sum_k p_k W_k", got, want, 1e-9, 1e-7));
}

TEST(ClassifierGrad, MatchesTheMixturesPosteriorGradient) {
  const auto mix = t6::Mixture::three();
  auto x = fixed_normal({64, 2}, 697).to(torch::kFloat64) * 2;
  auto y = torch::arange(64, torch::kLong) % 3;
  auto t = torch::full({64}, 400, torch::kLong);
  for (double ab : {0.9, 0.5, 0.05}) {
    ClassifierFn f = [&mix, ab](const torch::Tensor& z, const torch::Tensor&) { return mix.log_joint(z, ab); };
    auto got = classifier_log_prob_grad(f, x, t, y);
    auto want = mix.classifier_grad_fd(x, y, ab);
    auto post = mix.posterior(x, ab);
    auto all = torch::zeros_like(x);
    for (std::int64_t k = 0; k < mix.K(); ++k) all += mix.classifier_grad_fd(x, torch::full({64}, k, torch::kLong), ab);
    t6::name_mistake(t6::diagnose(got, want,
                                  {{kLogit, mix.class_score(x, y, ab)},
                                   {kProb, post.gather(1, y.unsqueeze(1)) * want},
                                   {kMean, want / 64.0},
                                   {kAllClasses, all},
                                   {kArgmax, mix.classifier_grad_fd(x, post.argmax(1), ab)},
                                   {kSign, -want}},
                                  1e-5, 1e-7),
                     " (alpha_bar_t = " + std::to_string(ab) + ")");
    EXPECT_TRUE(tensors_close("grad log p(y | x_t) at alpha_bar_t = " + std::to_string(ab), got, want, 1e-6, 1e-5));
  }
}

TEST(ClassifierGrad, WorksUnderNoGradGuardAsTheSamplersCallIt) {
  const auto c = linear();
  Batch b;
  auto x = b.x.to(torch::kFloat32);
  std::string error;
  torch::Tensor got;
  {
    torch::NoGradGuard no_grad;  // how chapter 03's and 05's samplers run
    got = call(c.fn(), x, b.t, b.y, error);
    EXPECT_FALSE(torch::GradMode::is_enabled())
        << "autograd is still on after the call: the function turned it on for the caller too (the sampler "
           "would then record a graph at every step)";
  }
  ASSERT_TRUE(error.empty()) << "likely mistake: autograd is off inside the samplers (torch::NoGradGuard), so "
                                "the classifier built no graph to differentiate: turn autograd on inside the "
                                "function (torch::AutoGradMode)\nit threw: "
                             << error;
  EXPECT_TRUE(
      tensors_close("the gradient under NoGradGuard", got, c.grad_log_p(x, b.t, b.y).to(torch::kFloat32), 1e-5, 1e-4));
}

TEST(ClassifierGrad, LeavesTheCallersXtAloneAndReturnsAPlainTensor) {
  auto c = linear();
  c.W = c.W.clone().requires_grad_();  // a classifier with parameters, as a network has
  Batch b;
  auto x = b.x.to(torch::kFloat32);
  const auto before = x.clone();
  std::string error;
  auto got = call(c.fn(), x, b.t, b.y, error);
  ASSERT_TRUE(error.empty()) << "it threw: " << error;
  EXPECT_TRUE(torch::equal(x, before)) << "the values of the caller's x_t changed";
  if (x.requires_grad())
    ADD_FAILURE() << "likely mistake: the caller's x_t now requires grad: the function switched on autograd "
                     "tracking of the caller's own tensor (the sampler's state), not of a copy of its own";
  EXPECT_FALSE(x.grad().defined()) << "a gradient was left on the caller's x_t (its .grad())";
  EXPECT_FALSE(got.requires_grad()) << "the result carries autograd history: it must be a plain tensor";
  EXPECT_TRUE(got.grad_fn() == nullptr) << "the result carries autograd history: it must be a plain tensor";
}

TEST(ClassifierGrad, KeepsTheShapeAndDtypeOfXt) {
  const auto c = linear();
  Batch b;
  for (auto dt : {torch::kFloat32, torch::kFloat64}) {
    auto x = b.x.to(dt);
    auto got = classifier_log_prob_grad(c.fn(), x, b.t, b.y);
    EXPECT_EQ(got.sizes(), x.sizes()) << "one gradient per sample, x_t's shape";
    EXPECT_EQ(got.scalar_type(), dt) << "x_t's dtype";
  }
  const auto mix = t6::Mixture::three();
  auto x = fixed_normal({5, 2}, 698).to(torch::kFloat64);
  ClassifierFn f = [&mix](const torch::Tensor& z, const torch::Tensor&) { return mix.log_joint(z, 0.5); };
  auto got = classifier_log_prob_grad(f, x, torch::zeros({5}, torch::kLong), torch::arange(5, torch::kLong) % 3);
  EXPECT_EQ(got.sizes(), x.sizes()) << "[B, 2] in, [B, 2] out";
}

TEST(ClassifierGrad, EachSamplesGradientIgnoresTheRestOfTheBatch) {
  const auto c = linear();
  Batch b;
  auto x2 = b.x.clone();
  x2[3] = fixed_normal({1, 2, 3}, 699).to(torch::kFloat64) * 3;  // only sample 3 changes
  auto g1 = classifier_log_prob_grad(c.fn(), b.x, b.t, b.y);
  auto g2 = classifier_log_prob_grad(c.fn(), x2, b.t, b.y);
  auto keep = torch::tensor({0, 1, 2, 4, 5, 6, 7}, torch::kLong);
  auto a = g1.index_select(0, keep), e = g2.index_select(0, keep);
  if (!torch::allclose(a, e, 1e-7, 1e-10))
    ADD_FAILURE() << "changing sample 3 changed the other samples' gradients: row b is the gradient of log "
                     "p(y[b] | x_t[b]) in x_t[b] alone (is something normalised or averaged across the batch? "
                     "e.g. "
                  << kBatchSoftmax << ")";
  EXPECT_TRUE(tensors_close("gradient of sample 3 after it changed", g2[3], c.grad_log_p(x2, b.t, b.y)[3], 1e-9, 1e-7));
}
