// Exercise 05.5: spherical interpolation between two noises.
#include <cmath>

#include "05_ddim/ddim.hpp"
#include "dm/todo.hpp"

namespace dm::ch05 {

// ANCHOR: slerp
torch::Tensor slerp(const torch::Tensor& z0, const torch::Tensor& z1, double alpha) {
  TORCH_CHECK(z0.sizes() == z1.sizes() && z0.dim() >= 1, "slerp: z0 ", z0.sizes(), " and z1 ", z1.sizes(),
              " must have the same [B, ...] shape");
  auto a = z0.flatten(/*start_dim=*/1).to(torch::kFloat64);  // [B, D]
  auto b = z1.flatten(/*start_dim=*/1).to(torch::kFloat64);  // [B, D]
  DM_TODO("05.5");
}
// ANCHOR_END: slerp

}  // namespace dm::ch05
