// Exercise 03.1: the sinusoidal timestep embedding.
#include <cmath>

#include "03_ddpm/ddpm.hpp"
#include "dm/todo.hpp"

namespace dm::ch03 {

// ANCHOR: embedding
torch::Tensor sinusoidal_embedding(const torch::Tensor& t, std::int64_t dim, double max_period) {
  TORCH_CHECK(dim >= 2 && dim % 2 == 0, "sinusoidal_embedding: dim must be even and >= 2, got ", dim);
  // BEGIN SOLUTION 03.1
  const std::int64_t half = dim / 2;
  auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(t.device());
  auto freqs = torch::exp(-std::log(max_period) * torch::arange(half, opts) / double(half));  // [half]
  auto args = t.to(torch::kFloat32).unsqueeze(1) * freqs.unsqueeze(0);                        // [B, half]
  return torch::cat({torch::sin(args), torch::cos(args)}, /*dim=*/1);                         // [B, dim]
  // BEGIN STUB
  // // half = dim / 2 frequencies (lesson 03, section 4), in float32 on t's device; t times each: [B, half]
  // DM_TODO("03.1");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: embedding

}  // namespace dm::ch03
