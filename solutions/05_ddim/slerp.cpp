// Exercise 05.5: spherical interpolation between two noises.
#include <cmath>

#include "05_ddim/ddim.hpp"
#include "dm/todo.hpp"

namespace dm::ch05 {

// ANCHOR: slerp
torch::Tensor slerp(const torch::Tensor& z0, const torch::Tensor& z1, double alpha) {
  TORCH_CHECK(z0.sizes() == z1.sizes() && z0.dim() >= 1, "slerp: z0 ", z0.sizes(), " and z1 ", z1.sizes(),
              " must have the same [B, ...] shape");
  // BEGIN SOLUTION 05.5
  auto a = z0.flatten(/*start_dim=*/1).to(torch::kFloat64);                  // [B, D]
  auto b = z1.flatten(/*start_dim=*/1).to(torch::kFloat64);                  // [B, D]
  auto cos = ((a * b).sum(1) / (a.norm(2, 1) * b.norm(2, 1))).clamp(-1, 1);  // [B]
  auto theta = torch::acos(cos);                                             // [B]
  auto sin = torch::sin(theta);                                              // [B]
  auto parallel = sin < 1e-6;
  auto safe_sin = torch::where(parallel, torch::ones_like(sin), sin);
  auto w0 = torch::where(parallel, torch::full_like(sin, 1 - alpha), torch::sin((1 - alpha) * theta) / safe_sin);
  auto w1 = torch::where(parallel, torch::full_like(sin, alpha), torch::sin(alpha * theta) / safe_sin);
  auto out = w0.unsqueeze(1) * a + w1.unsqueeze(1) * b;  // [B, D]
  return out.to(z0.scalar_type()).view(z0.sizes());
  // BEGIN STUB
  // auto a = z0.flatten(/*start_dim=*/1).to(torch::kFloat64);  // [B, D]
  // auto b = z1.flatten(/*start_dim=*/1).to(torch::kFloat64);  // [B, D]
  // DM_TODO("05.5");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: slerp

}  // namespace dm::ch05
