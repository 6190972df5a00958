// The attention function the course's text-conditioned networks call (chapter 06, part 4): scaled
// dot-product attention of queries over keys, with a mask that says which keys are real (the others
// are padding). The library has none of its own: chapter 06's program passes the student's exercise
// 06.12 (dm::ch06::cross_attention), the same way the U-Net takes chapter 03's timestep embedding, so
// the student's code runs inside the text encoder's self-attention and the U-Net's cross-attention.
#pragma once

#include <functional>

#include <torch/types.h>

namespace dm::nn {

struct AttentionResult {
  torch::Tensor output;   // [B, N, e]: for each query, the mix of the values
  torch::Tensor weights;  // [B, N, L]: how much each query takes from each key (rows sum to 1)
};

// q [B, N, d], k [B, L, d], v [B, L, e], key_mask [B, L] bool (true: a real key) -> AttentionResult.
// Multi-head modules fold the heads into B.
using AttentionFn = std::function<AttentionResult(const torch::Tensor& q, const torch::Tensor& k,
                                                  const torch::Tensor& v, const torch::Tensor& key_mask)>;

}  // namespace dm::nn
