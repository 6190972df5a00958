// Helpers for the chapter-02 tests: schedules computed independently of the exercises
// (plain loops in double, straight from the papers' formulas), Monte-Carlo moments, a
// two-sample Kolmogorov-Smirnov statistic, and "which known mistake does this look like".
//
// Each exercise's tests build their inputs here rather than with the student's earlier
// exercises, so a test fails only because of its own exercise.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "02_forward_noising/schedule.hpp"

namespace dm::ch02::test {

inline const char* kGolden = "02_forward_noising";

inline torch::Tensor to_tensor(const std::vector<double>& v) {
  return torch::tensor(v, torch::TensorOptions().dtype(torch::kFloat64));
}

// beta by the papers' formulas, one value at a time.
inline std::vector<double> reference_betas(const std::string& name, std::int64_t T) {
  std::vector<double> beta(static_cast<std::size_t>(T));
  const double pi = 3.14159265358979323846;
  for (std::int64_t t = 0; t < T; ++t) {
    const double frac = static_cast<double>(t) / static_cast<double>(T - 1);
    double b = 0;
    if (name == "linear") {
      b = 1e-4 + (0.02 - 1e-4) * frac;
    } else if (name == "cosine") {
      const double s = 0.008;
      auto f = [&](double u) { return std::pow(std::cos((u + s) / (1 + s) * pi / 2), 2); };
      b = std::min(1 - f(double(t + 1) / double(T)) / f(double(t) / double(T)), 0.999);
    } else {  // sigmoid
      const double x = -6 + 12 * frac;
      b = 1e-4 + (0.02 - 1e-4) / (1 + std::exp(-x));
    }
    beta[static_cast<std::size_t>(t)] = b;
  }
  return beta;
}

// alpha_bar[t] = prod_{s <= t} (1 - beta[s]), by a loop.
inline std::vector<double> reference_alpha_bar(const std::vector<double>& beta) {
  std::vector<double> ab(beta.size());
  double p = 1;
  for (std::size_t t = 0; t < beta.size(); ++t) ab[t] = p *= 1 - beta[t];
  return ab;
}

// A Schedule built without the exercises.
inline Schedule reference_schedule(const std::string& name, std::int64_t T = 1000) {
  const auto beta = reference_betas(name, T);
  const auto b = to_tensor(beta);
  return Schedule{b, 1 - b, to_tensor(reference_alpha_bar(beta))};
}

// Sample mean and (unbiased) variance of a 1-D tensor, in double.
struct Moments {
  double mean, var;
  std::int64_t n;
};
inline Moments moments(const torch::Tensor& x) {
  auto d = x.to(torch::kFloat64).flatten();
  return {d.mean().item<double>(), d.var().item<double>(), d.numel()};
}

// Standard error of a sample variance of n Gaussian draws of variance var.
inline double var_se(double var, std::int64_t n) { return var * std::sqrt(2.0 / double(n - 1)); }

// Two-sample Kolmogorov-Smirnov statistic sup |F_a - F_b|.
inline double ks_statistic(const torch::Tensor& a, const torch::Tensor& b) {
  auto sa = std::get<0>(a.to(torch::kFloat64).flatten().sort());
  auto sb = std::get<0>(b.to(torch::kFloat64).flatten().sort());
  const double* pa = sa.data_ptr<double>();
  const double* pb = sb.data_ptr<double>();
  const std::int64_t na = sa.numel(), nb = sb.numel();
  std::int64_t i = 0, j = 0;
  double d = 0;
  while (i < na && j < nb) {
    const double v = std::min(pa[i], pb[j]);
    while (i < na && pa[i] <= v) ++i;
    while (j < nb && pb[j] <= v) ++j;
    d = std::max(d, std::abs(double(i) / double(na) - double(j) / double(nb)));
  }
  return d;
}
// Critical value of the two-sample KS statistic at level 1e-3: c(alpha) sqrt((na + nb) / (na nb)),
// c(1e-3) = sqrt(-ln(1e-3 / 2) / 2) = 1.95.
inline double ks_critical(std::int64_t na, std::int64_t nb) {
  return 1.95 * std::sqrt(double(na + nb) / (double(na) * double(nb)));
}

// If `actual` is close to one of the `mistakes` (label, what that mistake would give) and not
// to `expected`, the label of the first such mistake; else "".
inline std::string diagnose(const torch::Tensor& actual, const torch::Tensor& expected,
                            const std::vector<std::pair<std::string, torch::Tensor>>& mistakes, double rtol = 1e-4,
                            double atol = 1e-7) {
  if (!actual.defined() || actual.sizes() != expected.sizes()) return "";
  auto a = actual.to(torch::kFloat64).cpu();
  if (torch::allclose(a, expected.to(torch::kFloat64).cpu(), rtol, atol)) return "";
  for (const auto& [label, wrong] : mistakes)
    if (wrong.sizes() == a.sizes() && torch::allclose(a, wrong.to(torch::kFloat64).cpu(), rtol, atol)) return label;
  return "";
}

// The timestep tensor [n] filled with t.
inline torch::Tensor steps(std::int64_t n, std::int64_t t) { return torch::full({n}, t, torch::kLong); }

}  // namespace dm::ch02::test
