// Helpers for the chapter-03 tests: the linear schedule computed independently of chapter 02's
// exercises (plain loops in double), the reverse step written out in plain doubles, the common
// known mistakes, and "which known mistake does this look like".
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "02_forward_noising/schedule.hpp"

namespace dm::ch03::test {

inline const char* kGolden = "03_ddpm";

// DDPM's linear schedule, beta from 1e-4 to 0.02, alpha_bar by a running product in double.
inline dm::ch02::Schedule linear_schedule(std::int64_t T = 1000) {
  std::vector<double> beta(static_cast<std::size_t>(T)), alpha(beta.size()), ab(beta.size());
  double prod = 1.0;
  for (std::int64_t t = 0; t < T; ++t) {
    const auto i = static_cast<std::size_t>(t);
    beta[i] = 1e-4 + (0.02 - 1e-4) * double(t) / double(T - 1);
    alpha[i] = 1.0 - beta[i];
    prod *= alpha[i];
    ab[i] = prod;
  }
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  return {torch::tensor(beta, f64), torch::tensor(alpha, f64), torch::tensor(ab, f64)};
}

struct StepScalars {
  double beta, alpha, ab, ab_prev, beta_tilde;
};
inline StepScalars scalars(const dm::ch02::Schedule& s, std::int64_t t) {
  StepScalars c{};
  c.beta = s.beta[t].item<double>();
  c.alpha = 1 - c.beta;
  c.ab = s.alpha_bar[t].item<double>();
  c.ab_prev = t > 0 ? s.alpha_bar[t - 1].item<double>() : 1.0;
  c.beta_tilde = (1 - c.ab_prev) / (1 - c.ab) * c.beta;
  return c;
}

// The label of the first `mistakes` entry that `actual` matches, when it does not match `expected`.
inline std::string diagnose(const torch::Tensor& actual, const torch::Tensor& expected,
                            const std::vector<std::pair<std::string, torch::Tensor>>& mistakes, double rtol = 1e-4,
                            double atol = 1e-6) {
  if (!actual.defined() || actual.sizes() != expected.sizes()) return "";
  auto a = actual.to(torch::kFloat64).cpu();
  if (torch::allclose(a, expected.to(torch::kFloat64).cpu(), rtol, atol)) return "";
  for (const auto& [label, wrong] : mistakes)
    if (wrong.sizes() == a.sizes() && torch::allclose(a, wrong.to(torch::kFloat64).cpu(), rtol, atol)) return label;
  return "";
}

}  // namespace dm::ch03::test
