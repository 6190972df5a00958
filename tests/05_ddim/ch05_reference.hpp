// Helpers for the chapter-05 tests, written without the exercises: the linear schedule by a loop,
// a Gaussian data distribution N(m, s^2 I) whose optimal noise prediction is known in closed form,
// a reference DDIM step and sampler (to decode inversions without the student's 05.3), and
// "which known mistake does this look like".
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "testing.hpp"

namespace dm::ch05::test {

inline const char* kGolden = "05_ddim";

// DDPM's linear schedule, beta 1e-4 .. 0.02 over T steps, and alpha_bar = prod (1 - beta), float64.
inline std::vector<double> linear_beta(std::int64_t T = 1000) {
  std::vector<double> b(static_cast<std::size_t>(T));
  for (std::int64_t t = 0; t < T; ++t) b[std::size_t(t)] = 1e-4 + (0.02 - 1e-4) * double(t) / double(T - 1);
  return b;
}
inline std::vector<double> linear_alpha_bar_vec(std::int64_t T = 1000) {
  auto b = linear_beta(T);
  std::vector<double> ab(b.size());
  double p = 1;
  for (std::size_t t = 0; t < b.size(); ++t) ab[t] = p *= 1 - b[t];
  return ab;
}
inline torch::Tensor to_tensor(const std::vector<double>& v) {
  return torch::tensor(v, torch::TensorOptions().dtype(torch::kFloat64));
}
inline torch::Tensor linear_alpha_bar(std::int64_t T = 1000) { return to_tensor(linear_alpha_bar_vec(T)); }

// Data x_0 ~ N(m, s^2 I) with m [D] (one mean per coordinate). Then x_t ~ N(sqrt(ab) m, (ab s^2 + 1 - ab) I)
// and the optimal noise prediction E[eps | x_t] is linear:
//   eps*(x_t, t) = sqrt(1 - ab) (x_t - sqrt(ab) m) / (ab s^2 + 1 - ab).
// With it, the eta = 0 DDIM ODE maps the marginal at t = T-1 onto N(m, s^2 I) as the steps grow.
struct GaussianData {
  torch::Tensor m;  // [D] float32
  double s;
  torch::Tensor alpha_bar;  // [T] float64

  torch::Tensor eps(const torch::Tensor& x, const torch::Tensor& t) const {
    auto ab = alpha_bar.index_select(0, t.to(torch::kCPU)).to(x.scalar_type()).unsqueeze(1);  // [B, 1]
    return (1 - ab).sqrt() * (x - ab.sqrt() * m) / (ab * s * s + 1 - ab);
  }
  // Draws of x_t for every row of the [N, D] standard normal z, at timestep t (t = -1: the data).
  torch::Tensor marginal(const torch::Tensor& z, std::int64_t t) const {
    const double ab = t < 0 ? 1.0 : alpha_bar[t].item<double>();
    return std::sqrt(ab) * m + std::sqrt(ab * s * s + 1 - ab) * z;
  }
};
// m = linspace(-0.5, 0.5, D), s = 0.5, linear schedule with T = 1000.
inline GaussianData gaussian_data(std::int64_t D = 16, double s = 0.5) {
  return {torch::linspace(-0.5, 0.5, D), s, linear_alpha_bar(1000)};
}

// The reference sampler schedules (the pinned formulas of ddim.hpp), trailing only.
inline std::vector<std::int64_t> trailing(std::int64_t T, std::int64_t n) {
  std::vector<std::int64_t> ts;
  for (std::int64_t i = 0; i < n; ++i)
    ts.push_back(std::int64_t(std::nearbyint(double(T) - double(i) * double(T) / double(n))) - 1);
  return ts;
}

// A plain eta = 0 DDIM sampler over `ts` (landing on -1 at the end), for decoding inversions.
template <class Eps>
torch::Tensor reference_ddim_eta0(const Eps& eps_fn, const torch::Tensor& alpha_bar, torch::Tensor x,
                                  const std::vector<std::int64_t>& ts) {
  for (std::size_t i = 0; i < ts.size(); ++i) {
    const double a = alpha_bar[ts[i]].item<double>();
    const double ap = i + 1 < ts.size() ? alpha_bar[ts[i + 1]].item<double>() : 1.0;
    auto e = eps_fn(x, torch::full({x.size(0)}, ts[i], torch::kLong));
    auto x0 = (x - std::sqrt(1 - a) * e) / std::sqrt(a);
    x = std::sqrt(ap) * x0 + std::sqrt(1 - ap) * e;
  }
  return x;
}

// Per-coordinate mean and standard deviation of [N, D] samples.
inline std::pair<torch::Tensor, torch::Tensor> column_moments(const torch::Tensor& x) {
  auto d = x.to(torch::kFloat64);
  return {d.mean(0), d.std(0)};
}

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
    auto w = wrong.to(torch::kFloat64).cpu();
    if (torch::allclose(a, w, rtol, atol, /*equal_nan=*/true)) return label;
  }
  return "";
}

inline std::vector<double> as_doubles(const std::vector<std::int64_t>& v) { return {v.begin(), v.end()}; }

inline std::string show(const std::vector<std::int64_t>& v) {
  std::string s = "{";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "}";
}

}  // namespace dm::ch05::test
