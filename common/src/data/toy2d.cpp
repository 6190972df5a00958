// Synthetic 2-D data. The Gaussian mixture is the one with a known answer:
//   log p(x)   = logsumexp_k [ log w_k + log N(x; mu_k, s_k^2 I) ]
//   grad log p = sum_k r_k(x) (mu_k - x) / s_k^2,   r_k = posterior weight of component k
// and forward noising x_t = sqrt(ab) x_0 + sqrt(1 - ab) eps keeps it a mixture.
// All arithmetic of the mixture is in float64; results come back in the input's dtype.
#include "dm/data/toy2d.hpp"

#include <cmath>

namespace dm {

namespace {

// An undefined generator (the default argument) means torch's default one.
c10::optional<torch::Generator> maybe(const torch::Generator& gen) {
  return gen.defined() ? c10::optional<torch::Generator>(gen) : c10::nullopt;
}

torch::Dtype result_dtype(const torch::Tensor& x) { return x.is_floating_point() ? x.scalar_type() : torch::kDouble; }

}  // namespace

GaussianMixture2D GaussianMixture2D::ring8() {
  constexpr int K = 8;
  const auto f64 = torch::TensorOptions().dtype(torch::kDouble);
  GaussianMixture2D gm;
  // Weights proportional to 1, 2, ..., 8 (sum 36): component k has weight (k + 1) / 36.
  gm.weights = torch::arange(1, K + 1, f64) / 36.0;
  const auto angle = torch::arange(0, K, f64) * (2 * M_PI / K);          // [K]
  gm.means = torch::stack({angle.cos(), angle.sin()}, /*dim=*/1) * 4.0;  // [K, 2], radius 4
  gm.stds = torch::full({K}, 0.3, f64);
  return gm;
}

torch::Tensor GaussianMixture2D::sample(std::int64_t n, torch::Generator gen) const {
  const auto g = maybe(gen);
  const auto k = torch::multinomial(weights, n, /*replacement=*/true, g);                  // [n] component ids
  const auto eps = torch::randn({n, 2}, g, torch::TensorOptions().dtype(torch::kDouble));  // [n, 2]
  const auto x = means.index_select(0, k) + stds.index_select(0, k).unsqueeze(1) * eps;    // mu_k + s_k eps
  return x.to(torch::kFloat);
}

// log w_k + log N(x; mu_k, s_k^2 I) for every point and component: [n, K].
static torch::Tensor component_log_joint(const GaussianMixture2D& gm, const torch::Tensor& x64) {
  const auto dev = x64.device();
  const auto mu = gm.means.to(dev), var = gm.stds.to(dev).square(), w = gm.weights.to(dev);
  const auto sq = (x64.unsqueeze(1) - mu.unsqueeze(0)).square().sum(/*dim=*/-1);  // [n, K] |x - mu_k|^2
  // In 2-D: log N = -|x - mu|^2 / (2 s^2) - log(2 pi s^2).
  return w.log().unsqueeze(0) - sq / (2 * var).unsqueeze(0) - (2 * M_PI * var).log().unsqueeze(0);
}

torch::Tensor GaussianMixture2D::log_prob(const torch::Tensor& x) const {
  const auto x64 = x.to(torch::kDouble);                                                    // [n, 2]
  return torch::logsumexp(component_log_joint(*this, x64), /*dim=*/1).to(result_dtype(x));  // [n]
}

torch::Tensor GaussianMixture2D::score(const torch::Tensor& x) const {
  const auto x64 = x.to(torch::kDouble);                              // [n, 2]
  const auto r = torch::softmax(component_log_joint(*this, x64), 1);  // [n, K] responsibilities
  const auto mu = means.to(x64.device()), var = stds.to(x64.device()).square();
  const auto pull = (mu.unsqueeze(0) - x64.unsqueeze(1)) / var.view({1, -1, 1});  // [n, K, 2] (mu_k - x) / s_k^2
  return (r.unsqueeze(2) * pull).sum(/*dim=*/1).to(result_dtype(x));              // [n, 2]
}

GaussianMixture2D GaussianMixture2D::noised(double alpha_bar) const {
  GaussianMixture2D out;
  out.weights = weights.clone();
  out.means = means * std::sqrt(alpha_bar);                           // sqrt(ab) mu_k
  out.stds = (stds.square() * alpha_bar + (1.0 - alpha_bar)).sqrt();  // sqrt(ab s_k^2 + 1 - ab)
  return out;
}

// Two interleaved half circles (scikit-learn's make_moons): the upper one
// (cos t, sin t), the lower (1 - cos t, 0.5 - sin t), t ~ U[0, pi], plus
// N(0, noise^2) in those units; then centred and scaled by 2.5 to span about [-4, 4].
torch::Tensor two_moons(std::int64_t n, double noise, torch::Generator gen) {
  const auto g = maybe(gen);
  const auto f64 = torch::TensorOptions().dtype(torch::kDouble);
  const auto t = torch::rand({n}, g, f64) * M_PI;
  const auto upper = (torch::arange(n, f64) < double(n) / 2).to(torch::kDouble);  // first half: upper moon
  const auto x = upper * t.cos() + (1 - upper) * (1 - t.cos());
  const auto y = upper * t.sin() + (1 - upper) * (0.5 - t.sin());
  auto pts = torch::stack({x, y}, 1) + noise * torch::randn({n, 2}, g, f64);  // [n, 2]
  pts = (pts - torch::tensor({0.5, 0.25}, f64)) * 2.5;
  return pts.index_select(0, torch::randperm(n, g, torch::TensorOptions().dtype(torch::kLong))).to(torch::kFloat);
}

// The 2-D swiss roll: t ~ U[1.5 pi, 4.5 pi], (t cos t, t sin t) / 3.5, which
// spans about [-4, 4]; plus N(0, noise^2) in those final units.
torch::Tensor swiss_roll(std::int64_t n, double noise, torch::Generator gen) {
  const auto g = maybe(gen);
  const auto f64 = torch::TensorOptions().dtype(torch::kDouble);
  const auto t = 1.5 * M_PI * (1 + 2 * torch::rand({n}, g, f64));
  const auto pts = torch::stack({t * t.cos(), t * t.sin()}, 1) / 3.5;  // [n, 2]
  return (pts + noise * torch::randn({n, 2}, g, f64)).to(torch::kFloat);
}

// A 4x4 board on [-4, 4]^2 of squares of side 2; points uniform on the 8
// squares (i, j) with i + j even (column i, row j, counted from the corner (-4, -4)).
torch::Tensor checkerboard(std::int64_t n, torch::Generator gen) {
  const auto g = maybe(gen);
  const auto i64 = torch::TensorOptions().dtype(torch::kLong);
  const auto f64 = torch::TensorOptions().dtype(torch::kDouble);
  const auto col = torch::randint(0, 4, {n}, g, i64);
  const auto row = 2 * torch::randint(0, 2, {n}, g, i64) + col.remainder(2);       // same parity as col
  const auto corner = torch::stack({col, row}, 1).to(torch::kDouble) * 2.0 - 4.0;  // [n, 2]
  return (corner + 2.0 * torch::rand({n, 2}, g, f64)).to(torch::kFloat);
}

}  // namespace dm
