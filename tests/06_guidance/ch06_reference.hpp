// Reference helpers of chapter 06's tests, written independently of the exercises:
//   - diagnose(): which named mistake an answer matches;
//   - a 2-D Gaussian mixture whose classes, conditional and unconditional eps and classifier are exact
//     (the truth of 06.5: the score identity of Bayes' rule is never used to compute it, each side comes from
//     its own density, the classifier's gradient from finite differences of its posterior);
//   - recording fakes of a conditional network and of the parts 06.3 and 06.4 are made of;
//   - 06.6's cross-entropy written out by loops, and a linear classifier whose gradient of log p(y | x)
//     (06.7) has a closed form.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "06_guidance/guidance.hpp"

namespace dm::ch06::test {

inline const char* kGolden = "06_guidance";

// If `actual` is close to one of the `mistakes` (label, what that mistake would give) and not to
// `expected`, the label of the first such mistake; else "".
inline std::string diagnose(const torch::Tensor& actual, const torch::Tensor& expected,
                            const std::vector<std::pair<std::string, torch::Tensor>>& mistakes, double rtol = 1e-4,
                            double atol = 1e-6) {
  if (!actual.defined() || actual.sizes() != expected.sizes()) return "";
  auto a = actual.to(torch::kFloat64).cpu();
  if (torch::allclose(a, expected.to(torch::kFloat64).cpu(), rtol, atol, /*equal_nan=*/false)) return "";
  for (const auto& [label, wrong] : mistakes) {
    if (wrong.sizes() != a.sizes()) continue;
    if (torch::allclose(a, wrong.to(torch::kFloat64).cpu(), rtol, atol, /*equal_nan=*/true)) return label;
  }
  return "";
}

inline void name_mistake(const std::string& mistake, const std::string& note = "") {
  if (!mistake.empty()) ADD_FAILURE() << "likely mistake: " << mistake << note;
}

// ---- the exact 2-D mixture -------------------------------------------------------------------------

// p(x_0) = sum_k pi_k N(mu_k, s_k^2 I); at level ab, class k is N(sqrt(ab) mu_k, (ab s_k^2 + 1 - ab) I).
struct Mixture {
  torch::Tensor pi, mu, s;  // [K], [K, 2], [K] float64

  static Mixture three() {
    return {torch::tensor({0.5, 0.3, 0.2}, torch::kFloat64),
            torch::tensor({-2.0, 0.0, 1.5, 1.5, 1.0, -2.0}, torch::kFloat64).view({3, 2}),
            torch::tensor({0.4, 0.6, 0.3}, torch::kFloat64)};
  }
  std::int64_t K() const { return pi.size(0); }
  torch::Tensor var(double ab) const { return s.pow(2) * ab + (1 - ab); }  // [K]
  // grad log N_k(x) at level ab for the class of each row: [n, 2]
  torch::Tensor class_score(const torch::Tensor& x, const torch::Tensor& y, double ab) const {
    auto m = mu.index_select(0, y) * std::sqrt(ab);
    return -(x - m) / var(ab).index_select(0, y).unsqueeze(1);
  }
  // log pi_k N_k(x) at level ab, the log joint of class and point: [n, K] (differentiable in x)
  torch::Tensor log_joint(const torch::Tensor& x, double ab) const {
    auto v = var(ab);
    auto d2 = (x.unsqueeze(1) - (mu * std::sqrt(ab)).unsqueeze(0)).pow(2).sum(-1);  // [n, K]
    return pi.log() - d2 / (2 * v) - (2 * M_PI * v).log();
  }
  // log p(k | x) at level ab: [n, K] (log_softmax: no underflow to -inf far from a class)
  torch::Tensor log_posterior(const torch::Tensor& x, double ab) const {
    return torch::log_softmax(log_joint(x, ab), 1);
  }
  // responsibilities p(k | x) at level ab: [n, K]
  torch::Tensor posterior(const torch::Tensor& x, double ab) const { return log_posterior(x, ab).exp(); }
  // grad log p(x) = sum_k p(k | x) grad log N_k(x): [n, 2]
  torch::Tensor score(const torch::Tensor& x, double ab) const {
    auto r = posterior(x, ab);
    auto out = torch::zeros_like(x);
    for (std::int64_t k = 0; k < K(); ++k)
      out += r.select(1, k).unsqueeze(1) * class_score(x, torch::full({x.size(0)}, k, torch::kLong), ab);
    return out;
  }
  torch::Tensor eps_cond(const torch::Tensor& x, const torch::Tensor& y, double ab) const {
    return -std::sqrt(1 - ab) * class_score(x, y, ab);
  }
  torch::Tensor eps_uncond(const torch::Tensor& x, double ab) const { return -std::sqrt(1 - ab) * score(x, ab); }
  // grad_x log p(y | x) by central finite differences of the log posterior (no Bayes, no scores)
  torch::Tensor classifier_grad_fd(const torch::Tensor& x, const torch::Tensor& y, double ab, double h = 1e-5) const {
    auto g = torch::zeros_like(x);
    for (int d = 0; d < 2; ++d) {
      auto e = torch::zeros_like(x);
      e.select(1, d).fill_(h);
      auto lp = [&](const torch::Tensor& z) { return log_posterior(z, ab).gather(1, y.unsqueeze(1)).squeeze(1); };
      g.select(1, d).copy_((lp(x + e) - lp(x - e)) / (2 * h));
    }
    return g;
  }
};

// Chapter 03's linear schedule (T = 1000), built here so that no exercise's code runs.
inline Schedule linear_schedule() {
  auto beta = torch::linspace(1e-4, 0.02, 1000, torch::kFloat64);
  Schedule s;
  s.beta = beta;
  s.alpha = 1 - beta;
  s.alpha_bar = torch::cumprod(1 - beta, 0);
  return s;
}

// ---- recording fakes ---------------------------------------------------------------------------------

// A conditional "network" whose answer depends on x, t and y in a way every mistake changes:
// eps(x, t, y) = 0.5 x + 0.01 t + label_value(y), broadcast over [...]; null (= K) gives -3.
struct FakeNet {
  std::int64_t K = 10;
  int calls = 0;
  std::vector<std::int64_t> batch_sizes;
  std::vector<torch::Tensor> labels_seen;
  torch::Tensor label_value(const torch::Tensor& y) const {
    auto v = y.to(torch::kFloat64) * 0.25 + 1.0;
    return torch::where(y == K, torch::full_like(v, -3.0), v);
  }
  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) {
    ++calls;
    batch_sizes.push_back(x.size(0));
    labels_seen.push_back(y.clone());
    std::vector<std::int64_t> shape(static_cast<std::size_t>(x.dim()), 1);
    shape[0] = x.size(0);
    auto lv = label_value(y).to(x.scalar_type()).view(shape);
    auto tv = (t.to(x.scalar_type()) * 0.01).view(shape);
    return 0.5 * x + tv + lv;
  }
  CondEpsModel fn() {
    return [this](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) { return (*this)(x, t, y); };
  }
};

// The guided eps as 06.3 must give it, over the fake net, written out.
inline torch::Tensor expected_guided(FakeNet& net, const torch::Tensor& x, const torch::Tensor& t,
                                     const torch::Tensor& y, double s_scale) {
  FakeNet quiet = net;
  auto ec = quiet(x, t, y);
  auto eu = quiet(x, t, torch::full_like(y, net.K));
  return eu + s_scale * (ec - eu);
}

// Parts for 06.3 that are right (null = K, the guidance_scale line) and do not run 06.1 or 06.2.
inline GuidanceParts reference_parts() {
  GuidanceParts p;
  p.null_label = [](std::int64_t K) { return K; };
  p.combine = [](const torch::Tensor& c, const torch::Tensor& u, double strength, Convention conv) {
    const double s = conv == Convention::HoSalimansW ? strength + 1 : strength;
    return u + s * (c - u);
  };
  return p;
}

// ---- 06.6 and 06.7: the cross-entropy and the classifier's gradient, written out -----------------------

// The mean over the batch of log sum_k exp(l[b][k]) - l[b][y[b]], by loops in double (no log_softmax):
// logits [B, K], labels y [B] int64.
inline double mean_nll(const torch::Tensor& logits, const torch::Tensor& y) {
  auto l = logits.detach().to(torch::kFloat64).cpu().contiguous();
  auto yy = y.to(torch::kLong).cpu().contiguous();
  auto a = l.accessor<double, 2>();
  auto ya = yy.accessor<std::int64_t, 1>();
  const auto B = l.size(0), K = l.size(1);
  double total = 0;
  for (std::int64_t b = 0; b < B; ++b) {
    double m = a[b][0];
    for (std::int64_t k = 1; k < K; ++k) m = std::max(m, a[b][k]);
    double z = 0;
    for (std::int64_t k = 0; k < K; ++k) z += std::exp(a[b][k] - m);
    total += m + std::log(z) - a[b][ya[b]];
  }
  return total / double(B);
}

// A linear classifier on images: logits = W x + b + c t v (x flattened to D; the t term moves the posterior,
// not the logits' gradient in x), computed in x's dtype.
struct LinearClassifier {
  torch::Tensor W, bias, v;  // [K, D], [K], [K] float64
  double c = 0.002;
  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor& t) const {
    const auto dt = x.scalar_type();
    return x.flatten(1).matmul(W.to(dt).t()) + bias.to(dt) + c * t.to(dt).unsqueeze(1) * v.to(dt);
  }
  ClassifierFn fn() const {
    return [self = *this](const torch::Tensor& x, const torch::Tensor& t) { return self(x, t); };
  }
  // p(k | x_b, t_b) in float64: [B, K]
  torch::Tensor probs(const torch::Tensor& x, const torch::Tensor& t) const {
    auto l = (*this)(x.detach().to(torch::kFloat64), t);
    auto e = (l - std::get<0>(l.max(1, true))).exp();
    return e / e.sum(1, true);
  }
  // grad_x log p(y_b | x_b, t_b) = W_{y_b} - sum_k p_bk W_k, in x's shape, float64
  torch::Tensor grad_log_p(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) const {
    return (W.index_select(0, y) - probs(x, t).matmul(W)).view(x.sizes());
  }
};

}  // namespace dm::ch06::test
