// Helpers for the chapter-04 tests: the parameterisation formulas and sampler steps written out
// independently of the exercises (plain formulas), a Gaussian target whose score is linear,
// deterministic inputs, and "which known mistake does this look like".
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "04_score_sde/sde.hpp"
#include "dm/data/toy2d.hpp"

namespace dm::ch04::test {

inline const char* kGolden = "04_score_sde";

inline const GaussianMixture2D& ring() {
  static const GaussianMixture2D gm = GaussianMixture2D::ring8();
  return gm;
}

// The score of N(m, var I): -(x - m) / var. Linear in x, so golden values of the steps need no mixture.
inline ScoreFn gaussian_score(double m, double var) {
  return [m, var](const torch::Tensor& x, double) { return -(x - m) / var; };
}

// Centred Gaussian data N(0, c2 I): under the VP-SDE p_t = N(0, v_t I), v_t = ab c2 + 1 - ab.
inline double gaussian_var_t(const VpSde& sde, double c2, double t) {
  const double ab = sde.alpha_bar(t);
  return ab * c2 + 1 - ab;
}
inline ScoreFn gaussian_data_score(const VpSde& sde, double c2) {
  return [sde, c2](const torch::Tensor& x, double t) { return -x / gaussian_var_t(sde, c2, t); };
}

// E[x_0 | x_t] of the mixture by Bayes' rule, component by component, in plain loops.
inline torch::Tensor reference_posterior_mean(const GaussianMixture2D& gm, const torch::Tensor& xt, double ab) {
  auto x = xt.to(torch::kFloat64).contiguous();
  const auto K = gm.weights.size(0), n = x.size(0);
  auto out = torch::zeros({n, 2}, torch::kFloat64);
  const double a = std::sqrt(ab);
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<double> logj(static_cast<std::size_t>(K));
    double mx = -1e300;
    for (std::int64_t k = 0; k < K; ++k) {
      const double s2 = std::pow(gm.stds[k].item<double>(), 2), v = ab * s2 + 1 - ab;
      const double dx = x[i][0].item<double>() - a * gm.means[k][0].item<double>();
      const double dy = x[i][1].item<double>() - a * gm.means[k][1].item<double>();
      logj[size_t(k)] = std::log(gm.weights[k].item<double>()) - (dx * dx + dy * dy) / (2 * v) - std::log(v);
      mx = std::max(mx, logj[size_t(k)]);
    }
    double z = 0, m0 = 0, m1 = 0;
    for (std::int64_t k = 0; k < K; ++k) {
      const double s2 = std::pow(gm.stds[k].item<double>(), 2), v = ab * s2 + 1 - ab;
      const double r = std::exp(logj[size_t(k)] - mx), gain = a * s2 / v;
      const double mu0 = gm.means[k][0].item<double>(), mu1 = gm.means[k][1].item<double>();
      z += r;
      m0 += r * (mu0 + gain * (x[i][0].item<double>() - a * mu0));
      m1 += r * (mu1 + gain * (x[i][1].item<double>() - a * mu1));
    }
    out[i][0] = m0 / z;
    out[i][1] = m1 / z;
  }
  return out;
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

// Least-squares slope of log(err) against log(h): the measured order of convergence.
inline double log_log_slope(const std::vector<double>& h, const std::vector<double>& err) {
  double mx = 0, my = 0;
  for (size_t i = 0; i < h.size(); ++i)
    mx += std::log(h[i]) / double(h.size()), my += std::log(err[i]) / double(h.size());
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < h.size(); ++i) {
    sxy += (std::log(h[i]) - mx) * (std::log(err[i]) - my);
    sxx += (std::log(h[i]) - mx) * (std::log(h[i]) - mx);
  }
  return sxy / sxx;
}

// Fraction of x [n, 2] nearest to each ring mean, [K] float64 (computed here, not with evaluate.hpp).
inline torch::Tensor nearest_mode_weights(const torch::Tensor& x, const torch::Tensor& means) {
  const auto d = (x.to(torch::kFloat64).unsqueeze(1) - means.unsqueeze(0)).square().sum(-1);  // [n, K]
  return torch::bincount(d.argmin(1), {}, means.size(0)).to(torch::kFloat64) / double(x.size(0));
}

}  // namespace dm::ch04::test
