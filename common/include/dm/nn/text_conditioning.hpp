// Text conditioning for the course U-Net (chapter 06, part 4; Rombach et al. 2022, section 3.3): a small
// transformer text encoder trained jointly from scratch, and the cross-attention block that lets image
// features read its token embeddings. Both call an AttentionFn (dm/nn/attention.hpp): in chapter 06's
// program, the student's exercise 06.12.
//
//   TextEncoder      ids [B, L] int64, mask [B, L] bool -> [B, L, width]
//                    token embedding + learned position embedding, then `layers` pre-LayerNorm blocks
//                    (self-attention over the real tokens, an MLP of 4 x width), each residual, and a
//                    final LayerNorm (the shape of CLIP's text tower, small)
//   CrossAttention   x [B, C, H, W], context [B, L, width], mask -> [B, C, H, W]
//                    x + proj(attention(q = W_q norm(x), k = W_k context, v = W_v context)), the queries
//                    at the H * W positions, the keys and values from the tokens, proj zero-initialised
//                    (a U-Net that gains the block computes what it did before)
#pragma once

#include <cstdint>

#include <torch/nn.h>

#include "dm/nn/attention.hpp"

namespace dm::nn {

struct TextEncoderImpl : torch::nn::Module {
  TextEncoderImpl(std::int64_t vocab, std::int64_t context, std::int64_t width, std::int64_t layers,
                  std::int64_t heads);
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& mask, const AttentionFn& attend);

  std::int64_t heads;
  torch::nn::Embedding token{nullptr};
  torch::Tensor position;  // [context, width]
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm_out{nullptr};
};
TORCH_MODULE(TextEncoder);

struct CrossAttentionImpl : torch::nn::Module {
  CrossAttentionImpl(std::int64_t channels, std::int64_t context_width, std::int64_t heads, std::int64_t groups);
  // weights_out, when given, receives the attention weights averaged over the heads: [B, H*W, L]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context, const torch::Tensor& mask,
                        const AttentionFn& attend, torch::Tensor* weights_out = nullptr);

  std::int64_t heads;
  torch::nn::GroupNorm norm{nullptr};
  torch::nn::Conv2d q{nullptr}, proj{nullptr};
  torch::nn::Linear k{nullptr}, v{nullptr};
};
TORCH_MODULE(CrossAttention);

// Multi-head attention through `attend`: q [B, N, C], k, v [B, L, C], mask [B, L] -> [B, N, C] (the heads
// folded into the batch, C / heads wide each); weights_out, when given, gets [B, N, L] averaged over heads.
torch::Tensor multi_head(const AttentionFn& attend, const torch::Tensor& q, const torch::Tensor& k,
                         const torch::Tensor& v, const torch::Tensor& mask, std::int64_t heads,
                         torch::Tensor* weights_out = nullptr);

}  // namespace dm::nn
