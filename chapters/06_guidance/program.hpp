// Chapter 06's program: the helpers its two parts share (main.cpp: the toy and classifier-free guidance;
// classifier_guidance.cpp: classifier guidance of chapter 03's unconditional model).
#pragma once

#include <fmt/core.h>
#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "02_forward_noising/schedule.hpp"
#include "dm/data/fashion_mnist.hpp"
#include "dm/errors.hpp"
#include "dm/eval/evaluator.hpp"
#include "dm/nn/oom.hpp"

namespace ch06 {

constexpr std::int64_t kClasses = 10;  // Fashion-MNIST

inline at::Generator make_gen(std::uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

inline std::vector<double> to_vector(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

// The schedule a model file was trained with (its "beta"), else chapter 03's linear schedule of T = 1000
// steps (your chapter 02 code).
inline dm::ch02::Schedule schedule_from(const nlohmann::json& meta) {
  if (meta.contains("beta")) {
    auto beta = torch::tensor(meta.at("beta").get<std::vector<double>>(), torch::kFloat64);
    return dm::ch02::make_schedule(beta);
  }
  return dm::ch02::make_schedule(dm::ch02::linear_beta_schedule(1000, 1e-4, 0.02));
}

// The labels of a sweep: `n` images, the classes in turn (balanced up to one image).
inline torch::Tensor balanced_labels(std::int64_t n) { return torch::arange(n, torch::kLong) % kClasses; }

// A fraction k / n with its 95 % Wilson interval.
struct Accuracy {
  double value = 0, lo = 0, hi = 0, confidence = 0;  // confidence: the classifier's mean top probability
};
inline Accuracy wilson(double k, double n) {
  const double z = 1.96, ph = k / n, d = 1 + z * z / n;
  const double c = (ph + z * z / (2 * n)) / d, h = z * std::sqrt(ph * (1 - ph) / n + z * z / (4 * n * n)) / d;
  return {ph, std::max(0.0, c - h), std::min(1.0, c + h), 0};
}

// The difference of two accuracies measured on the same n samples, (b - c) / n, where b samples are right
// by the first classifier only and c by the second only, with its 95 % interval (the normal approximation
// of the paired difference; the samples both get right or both get wrong cancel).
inline Accuracy paired_difference(double b, double c, double n) {
  const double d = (b - c) / n, sd = std::sqrt(std::max(0.0, b + c - (b - c) * (b - c) / n)) / n;
  return {d, d - 1.96 * sd, d + 1.96 * sd, 0};
}

// The fraction of samples that the course's evaluation classifier puts in the class they were asked for.
inline Accuracy class_accuracy(const dm::eval::Evaluator& ev, const torch::Tensor& samples, const torch::Tensor& y) {
  const auto p = ev.probabilities(samples);
  auto a = wilson((p.argmax(1) == y.cpu()).to(torch::kFloat64).sum().item<double>(), double(samples.size(0)));
  a.confidence = std::get<0>(p.max(1)).mean().item<double>();
  return a;
}

// A sweep's images: sample(start, n) for the rows [start, start + n) of [0, total), in batches of `batch`
// (an out-of-memory error says to lower --sample-batch), clamped to [-1, 1] and gathered on the CPU.
inline torch::Tensor sample_in_batches(std::int64_t total, std::int64_t batch,
                                       const std::function<torch::Tensor(std::int64_t, std::int64_t)>& sample) {
  std::vector<torch::Tensor> out;
  for (std::int64_t start = 0; start < total; start += batch) {
    const auto n = std::min(batch, total - start);
    out.push_back(dm::nn::with_oom_advice("sampling", batch, [&] { return sample(start, n); }).clamp(-1, 1).cpu());
  }
  return torch::cat(out);
}

inline std::int64_t class_index(const std::string& name) {
  for (std::int64_t c = 0; c < kClasses; ++c)
    if (name == dm::kFashionMnistClasses[std::size_t(c)]) return c;
  std::string all;
  for (const auto* c : dm::kFashionMnistClasses) all += fmt::format("{}\"{}\"", all.empty() ? "" : ", ", c);
  throw dm::UsageError(fmt::format("--classes: no class \"{}\"; the classes are {}", name, all));
}

}  // namespace ch06
