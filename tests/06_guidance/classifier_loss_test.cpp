// Exercise 06.6: the noise-aware classifier's loss, its cross-entropy on noised images.
// Over recording parts (a fake q_sample and a small linear classifier, so none of chapter 02's code runs):
// checks that the classifier sees exactly parts.q_sample(s, x0, t, eps) with the caller's t and eps, and
// the timesteps t themselves, that the value is the mean over the batch of log sum_k exp(l_k) - l_y written
// out by loops, that a classifier that cannot tell gives log K, and that the loss keeps its graph (the
// classifier's parameters get their gradient). Names the slips: clean images, the timestep not passed,
// noise of its own, a sum over the batch, minus the probability instead of its log, a softmax over the
// batch axis, another image's label.
// Run one test: build/default/bin/test_06_exercises --gtest_filter='ClassifierLoss.*'
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "06_guidance/guidance.hpp"
#include "ch06_reference.hpp"
#include "testing.hpp"

using namespace dm::ch06;
namespace t6 = dm::ch06::test;
using dm::testing::fixed_normal;
using dm::testing::tensors_close;

namespace {
// Records what reaches parts.q_sample and parts.classifier. The fake q_sample is not chapter 02's: it only
// has to depend on x0, t and eps in a way that tells them apart. The classifier is linear in x_t, with a
// class-dependent term in t (a term the same for every class would cancel in the softmax).
struct Recorder {
  std::int64_t K = 5;
  torch::Tensor W = (fixed_normal({5, 4}, 690) * 0.7).requires_grad_();
  torch::Tensor bias = (fixed_normal({5}, 691) * 0.3).requires_grad_();
  torch::Tensor v = torch::tensor({-1.0F, -0.5F, 0.0F, 0.5F, 1.0F});
  int q_calls = 0, clf_calls = 0;
  torch::Tensor ab_seen, x0_seen, tq_seen, eps_seen, x_seen, t_seen;

  static torch::Tensor noised(const torch::Tensor& x0, const torch::Tensor& t, const torch::Tensor& eps) {
    return 0.6 * x0 + 0.8 * eps + 0.001 * t.to(x0.scalar_type()).view({-1, 1, 1, 1});
  }
  torch::Tensor logits(const torch::Tensor& x, const torch::Tensor& t) const {
    return x.flatten(1).matmul(W.t()) + bias + 0.002 * t.to(x.scalar_type()).unsqueeze(1) * v;
  }
  ClassifierLossParts parts() {
    ClassifierLossParts p;
    p.q_sample = [this](const Schedule& s, const torch::Tensor& x0, const torch::Tensor& t, const torch::Tensor& eps) {
      ++q_calls;
      ab_seen = s.alpha_bar, x0_seen = x0.clone(), tq_seen = t.clone(), eps_seen = eps.clone();
      return noised(x0, t, eps);
    };
    p.classifier = [this](const torch::Tensor& x, const torch::Tensor& t) {
      ++clf_calls;
      x_seen = x.detach().clone(), t_seen = t.clone();
      return logits(x, t);
    };
    return p;
  }
};

struct Batch {
  torch::Tensor x0 = fixed_normal({8, 1, 2, 2}, 692);
  torch::Tensor y = torch::tensor({3, 0, 4, 1, 1, 2, 0, 3}, torch::kLong);
  torch::Tensor t = torch::tensor({7, 950, 120, 480, 3, 610, 999, 260}, torch::kLong);
  torch::Tensor eps = fixed_normal({8, 1, 2, 2}, 693);
};

bool same(const torch::Tensor& a, const torch::Tensor& b) {
  return a.defined() && b.defined() && a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() &&
         torch::equal(a, b);
}

torch::Tensor scalar(double v) { return torch::scalar_tensor(v, torch::kFloat64); }

// What the likeliest slips give for logits L (of the right x_t and t) and labels y.
std::vector<std::pair<std::string, torch::Tensor>> value_slips(const Recorder& r, const Batch& b) {
  torch::NoGradGuard no_grad;
  auto xt = Recorder::noised(b.x0, b.t, b.eps);
  auto L = r.logits(xt, b.t).to(torch::kFloat64);
  auto yi = b.y.unsqueeze(1);
  const double nll = t6::mean_nll(L, b.y);
  const double B = double(b.y.size(0));
  return {
      {"the classifier saw the clean images x0: a noise-aware classifier must be trained on the noised x_t it "
       "will read while sampling",
       scalar(t6::mean_nll(r.logits(b.x0, b.t), b.y))},
      {"the timestep was not passed to the classifier (it saw t = 0 for every image): it cannot tell how noisy "
       "each image is",
       scalar(t6::mean_nll(r.logits(xt, torch::zeros_like(b.t)), b.y))},
      {"the loss was summed over the batch: the objective is the mean over the images (a sum grows with the "
       "batch size)",
       scalar(B * nll)},
      {"the loss is minus the probability of the label, not minus its log-probability (cross-entropy is a "
       "negative log-likelihood)",
       -torch::softmax(L, 1).gather(1, yi).mean()},
      {"a softmax over the batch axis (dim 0): each image's probabilities are over its own classes (dim 1)",
       -torch::log_softmax(L, 0).gather(1, yi).mean()},
      {"another image's label was read: index_select(1, y) scores every image against every label of the "
       "batch, not against its own y[b] alone",
       -torch::log_softmax(L, 1).index_select(1, b.y).mean()},
      {"another image's label was read: gather along dim 0 picks the row of image y[b], not the column y[b] "
       "of image b",
       -torch::log_softmax(L, 1).gather(0, yi).mean()},
      {"another image's label was read: every label was looked up in the first image's log-probabilities",
       -torch::log_softmax(L, 1)[0].index_select(0, b.y).mean()},
      {"the logit of the label was used as its log-probability: the log-normaliser (log-sum-exp over the "
       "classes) is missing",
       -L.gather(1, yi).mean()},
      {"the mean over every class's log-probability, not the label's", -torch::log_softmax(L, 1).mean()},
      {"the sign: the loss is the negative log-likelihood, minus log p(y | x_t), which is positive", scalar(-nll)},
  };
}
}  // namespace

TEST(ClassifierLoss, TheClassifierSeesTheImagesNoisedByTheCallersDraws) {
  Recorder r;
  Batch b;
  const auto s = t6::linear_schedule();
  classifier_loss(r.parts(), s, b.x0, b.y, b.t, b.eps);
  ASSERT_EQ(r.clf_calls, 1) << "call parts.classifier once, on the whole batch";
  const auto want = Recorder::noised(b.x0, b.t, b.eps);
  if (same(r.x_seen, b.x0))
    ADD_FAILURE() << "likely mistake: the classifier saw the clean images x0: a noise-aware classifier must be "
                     "trained on the noised x_t it will read while sampling";
  else if (r.q_calls >= 1 && r.eps_seen.defined() && !same(r.eps_seen, b.eps))
    ADD_FAILURE() << "likely mistake: the images were noised with other noise than the caller's eps: the caller "
                     "has drawn eps and t for this batch (and the training step uses the same ones)";
  if (r.t_seen.defined() && r.t_seen.sizes() == b.t.sizes() && !same(r.t_seen, b.t)) {
    if (torch::equal(r.t_seen, torch::zeros_like(r.t_seen)))
      ADD_FAILURE() << "likely mistake: the timestep was not passed to the classifier (it saw t = 0 for every "
                       "image): it cannot tell how noisy each image is";
    else
      ADD_FAILURE() << "likely mistake: the timestep was not passed to the classifier as given (it saw other "
                       "timesteps than t): "
                    << r.t_seen;
  }
  ASSERT_EQ(r.q_calls, 1) << "noise the batch with parts.q_sample (chapter 02's q_sample), once";
  EXPECT_TRUE(same(r.ab_seen, s.alpha_bar)) << "q_sample gets the schedule s";
  EXPECT_TRUE(same(r.x0_seen, b.x0)) << "q_sample gets the clean images x0";
  EXPECT_TRUE(same(r.tq_seen, b.t)) << "q_sample gets the batch's timesteps t, unchanged";
  EXPECT_TRUE(same(r.eps_seen, b.eps)) << "q_sample gets the caller's eps, unchanged";
  EXPECT_TRUE(r.x_seen.sizes() == want.sizes() && torch::allclose(r.x_seen, want, 1e-6, 1e-7))
      << "the classifier sees q_sample's answer, x_t";
  EXPECT_TRUE(same(r.t_seen, b.t)) << "the classifier sees the timesteps t, unchanged";
}

TEST(ClassifierLoss, IsTheMeanNegativeLogLikelihoodOfTheLabels) {
  Recorder r;
  Batch b;
  const auto loss = classifier_loss(r.parts(), t6::linear_schedule(), b.x0, b.y, b.t, b.eps);
  if (loss.dim() == 1 && loss.size(0) == b.y.size(0))
    ADD_FAILURE() << "likely mistake: the loss of each image was returned ([B]), not their mean over the batch";
  ASSERT_EQ(loss.dim(), 0) << "a scalar tensor";
  const double want = t6::mean_nll(r.logits(Recorder::noised(b.x0, b.t, b.eps), b.t), b.y);
  t6::name_mistake(t6::diagnose(loss.detach(), scalar(want), value_slips(r, b), 1e-5, 1e-6));
  EXPECT_NEAR(loss.item<double>(), want, 1e-5) << "mean over the batch of log sum_k exp(l_k) - l_y, in nats";
}

TEST(ClassifierLoss, IsLogKForAClassifierThatCannotTell) {
  Batch b;
  const std::int64_t K = 7;
  auto w = torch::zeros({}, torch::requires_grad());
  ClassifierLossParts p;
  p.q_sample = [](const Schedule&, const torch::Tensor& x0, const torch::Tensor& t, const torch::Tensor& eps) {
    return Recorder::noised(x0, t, eps);
  };
  p.classifier = [&](const torch::Tensor& x, const torch::Tensor&) {
    return torch::zeros({x.size(0), K}, x.options()) * w;  // the same score for every class
  };
  const auto loss = classifier_loss(p, t6::linear_schedule(), b.x0, b.y, b.t, b.eps);
  ASSERT_EQ(loss.numel(), 1) << "a scalar";
  const double got = loss.item<double>(), B = double(b.y.size(0));
  if (std::abs(got - B * std::log(double(K))) < 1e-4)
    ADD_FAILURE() << "likely mistake: the loss was summed over the batch: the objective is the mean over the "
                     "images (a sum grows with the batch size)";
  else if (std::abs(got + 1.0 / double(K)) < 1e-5)
    ADD_FAILURE() << "likely mistake: the loss is minus the probability of the label, not minus its "
                     "log-probability (cross-entropy is a negative log-likelihood)";
  EXPECT_NEAR(got, std::log(double(K)), 1e-5) << "a uniform guess over K = 7 classes costs log 7 nats an image";
}

TEST(ClassifierLoss, KeepsItsGraphForTheClassifiersParameters) {
  Recorder r;
  Batch b;
  auto loss = classifier_loss(r.parts(), t6::linear_schedule(), b.x0, b.y, b.t, b.eps);
  ASSERT_EQ(loss.numel(), 1) << "a scalar";
  ASSERT_TRUE(loss.requires_grad()) << "the loss keeps its graph (do not detach it or take .item()): the "
                                       "training step backpropagates through it into the classifier";
  loss.backward();
  ASSERT_TRUE(r.W.grad().defined() && r.bias.grad().defined()) << "the classifier's parameters get a gradient";
  // the same loss written out in float64 (log-sum-exp minus the label's logit), differentiated by autograd
  auto W = r.W.detach().to(torch::kFloat64).requires_grad_(), c = r.bias.detach().to(torch::kFloat64).requires_grad_();
  auto x = Recorder::noised(b.x0, b.t, b.eps).to(torch::kFloat64).flatten(1);
  auto L = x.matmul(W.t()) + c + 0.002 * b.t.to(torch::kFloat64).unsqueeze(1) * r.v.to(torch::kFloat64);
  (torch::logsumexp(L, 1) - L.gather(1, b.y.unsqueeze(1)).squeeze(1)).mean().backward();
  EXPECT_TRUE(tensors_close("dloss/dW", r.W.grad(), W.grad(), 1e-5, 1e-4));
  EXPECT_TRUE(tensors_close("dloss/dbias", r.bias.grad(), c.grad(), 1e-5, 1e-4));
}
