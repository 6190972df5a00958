// Sliced Wasserstein distance and mode weights of 2-D samples.
#include "04_score_sde/evaluate.hpp"

#include <cmath>

namespace dm::ch04 {

double sliced_wasserstein(const torch::Tensor& a, const torch::Tensor& b, std::int64_t directions) {
  TORCH_CHECK(a.dim() == 2 && a.size(1) == 2 && a.sizes() == b.sizes(),
              "sliced_wasserstein: a and b must be [n, 2], got ", a.sizes(), " and ", b.sizes());
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  const auto angle = torch::arange(directions, f64) * (M_PI / double(directions));     // [L]
  const auto u = torch::stack({angle.cos(), angle.sin()}, /*dim=*/0);                  // [2, L]
  const auto pa = std::get<0>(a.to(torch::kFloat64).cpu().matmul(u).sort(/*dim=*/0));  // [n, L] sorted projections
  const auto pb = std::get<0>(b.to(torch::kFloat64).cpu().matmul(u).sort(/*dim=*/0));
  return (pa - pb).abs().mean().item<double>();
}

torch::Tensor mode_weights(const torch::Tensor& x, const torch::Tensor& means) {
  const auto d = torch::cdist(x.to(torch::kFloat64).cpu(), means.to(torch::kFloat64).cpu());  // [n, K]
  const auto nearest = d.argmin(/*dim=*/1);                                                   // [n]
  return torch::bincount(nearest, /*weights=*/{}, /*minlength=*/means.size(0)).to(torch::kFloat64) / double(x.size(0));
}

double off_mode_fraction(const torch::Tensor& x, const torch::Tensor& means, double radius) {
  const auto d = torch::cdist(x.to(torch::kFloat64).cpu(), means.to(torch::kFloat64).cpu());  // [n, K]
  return (std::get<0>(d.min(/*dim=*/1)) > radius).to(torch::kFloat64).mean().item<double>();
}

double total_variation(const torch::Tensor& p, const torch::Tensor& q) {
  return 0.5 * (p.to(torch::kFloat64).cpu() - q.to(torch::kFloat64).cpu()).abs().sum().item<double>();
}

}  // namespace dm::ch04
