// Exercise 02.3: sampling x_t from x_0 in one shot, q(x_t | x_0).
#include <vector>

#include "02_forward_noising/forward.hpp"
#include "dm/todo.hpp"

namespace dm::ch02 {

// ANCHOR: extract
torch::Tensor extract(const torch::Tensor& coef, const torch::Tensor& t, const torch::Tensor& x) {
  TORCH_CHECK(coef.dim() == 1, "extract: coef must be [T], got ", coef.sizes());
  TORCH_CHECK(t.dim() == 1 && t.scalar_type() == torch::kLong, "extract: t must be [B] int64, got ", t.sizes(), " ",
              t.scalar_type());
  TORCH_CHECK(x.dim() >= 1 && x.size(0) == t.size(0), "extract: t has ", t.size(0), " entries but x has batch ",
              x.sizes());
  auto picked = coef.to(x.device()).index_select(0, t.to(x.device()));  // [B], still float64
  std::vector<std::int64_t> shape(static_cast<std::size_t>(x.dim()), 1);
  shape[0] = t.size(0);
  return picked.to(x.scalar_type()).reshape(shape);  // [B] -> [B, 1, ..., 1]
}
// ANCHOR_END: extract

// ANCHOR: q_sample
torch::Tensor q_sample(const Schedule& s, const torch::Tensor& x0, const torch::Tensor& t, const torch::Tensor& eps) {
  // BEGIN SOLUTION 02.3
  // square roots taken in float64, then cast to x0's dtype by extract
  auto signal = extract(s.alpha_bar.sqrt(), t, x0);       // [B, 1, 1, 1]: sqrt(alpha_bar_t)
  auto noise = extract((1 - s.alpha_bar).sqrt(), t, x0);  // [B, 1, 1, 1]: sqrt(1 - alpha_bar_t)
  return signal * x0 + noise * eps;
  // BEGIN STUB
  // // one draw of q(x_t | x_0) made from eps; extract() shapes a [T] coefficient to [B, 1, 1, 1]
  // DM_TODO("02.3");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: q_sample

}  // namespace dm::ch02
