// Exercise 06.12: scaled dot-product attention with a padding mask (Vaswani et al. 2017, eq. 1).
#include <stdexcept>
#include <string>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "06_guidance/text.hpp"
#include "dm/todo.hpp"

namespace dm::ch06 {

// ANCHOR: cross_attention
dm::nn::AttentionResult cross_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                        const torch::Tensor& key_mask) {
  const bool fits = q.dim() == 3 && k.dim() == 3 && v.dim() == 3 && key_mask.dim() == 2 && k.size(0) == q.size(0) &&
                    v.size(0) == q.size(0) && key_mask.size(0) == q.size(0) && k.size(2) == q.size(2) &&
                    v.size(1) == k.size(1) && key_mask.size(1) == k.size(1) && key_mask.scalar_type() == torch::kBool;
  if (!fits)
    throw std::invalid_argument(fmt::format(
        "cross_attention: expected q [B, N, d], k [B, L, d], v [B, L, e], key_mask [B, L] bool; got q {}, k {}, "
        "v {}, key_mask {} {}",
        q.sizes(), k.sizes(), v.sizes(), key_mask.sizes(), std::string(c10::toString(key_mask.scalar_type()))));
  if (key_mask.size(1) == 0 || !key_mask.any(1).all().item<bool>())
    throw std::invalid_argument("cross_attention: a row of key_mask has no real token (every prompt has <start>)");
  // BEGIN SOLUTION 06.12
  const double scale = 1.0 / std::sqrt(double(q.size(2)));         // scores of variance ~1 for unit q, k
  auto scores = torch::matmul(q, k.transpose(1, 2)) * scale;       // [B, N, L]
  scores = scores.masked_fill(~key_mask.unsqueeze(1), -INFINITY);  // padding: no weight at all
  auto weights = torch::softmax(scores, /*dim=*/-1);               // over the tokens, for each query
  return {torch::matmul(weights, v), weights};                     // [B, N, e], [B, N, L]
  // END SOLUTION
}
// ANCHOR_END: cross_attention

}  // namespace dm::ch06
