// Text prompts through cross-attention (lesson 06, part 4; Rombach et al. 2022, section 3.3).
//
//   06.12 cross_attention   scaled dot-product attention of queries over keys, with the padding mask: the
//                           operation inside the course's text encoder and the U-Net's cross-attention blocks
//   06.13 class_medians     each class's median of a measured attribute: where the captions' words split
//
// The chapter program passes your cross_attention to the text-conditioned U-Net (dm/nn/unet.hpp,
// set_attention), so every training step and every sample of part 4 runs through it, and builds every
// caption's attribute words from your class_medians.
#pragma once

#include <cstdint>

#include <torch/types.h>

#include "dm/nn/attention.hpp"

namespace dm::ch06 {

// ---- 06.12 attention with a padding mask ------------------------------------------------------------
//
// A prompt is a row of L token slots: <start>, its words, then <pad> up to the encoder's context, with a mask
// that is true for the real tokens (dm/data/captions.hpp). In the U-Net's cross-attention the queries are the
// image's H*W positions and the keys and values the prompt's tokens; in the text encoder's self-attention all
// three come from the tokens (lesson 06, "15. Cross-attention").
//   q          [B, N, d] float: one query per position that reads (N = H*W in the U-Net)
//   k          [B, L, d] float: one key per token, the same width d as the queries
//   v          [B, L, e] float: one value per token (e may differ from d)
//   key_mask   [B, L] bool: true for a real token, false for padding; every row has at least one true
//   returns    .weights [B, N, L]: how much query n of batch b takes from token l: for each (b, n) a
//                       distribution over the real tokens of row b (non-negative, summing to 1, exactly 0 on
//                       padding), larger for the keys that score higher against the query by dot product, at
//                       the temperature that keeps those scores' variance near 1 whatever d is (lesson 06,
//                       section 15 says which, and why)
//              .output  [B, N, e]: for each query, the mix of the values its weights describe
// Shapes that do not fit, or a row of key_mask with no real token, are std::invalid_argument.
dm::nn::AttentionResult cross_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                        const torch::Tensor& key_mask);

// ---- 06.13 where a caption's word splits --------------------------------------------------------------
//
// The captions' attribute words ("dark" / "light", "small" / "large") are measured from each image and split
// at its own class's median, so that every class has both words of each pair in about equal numbers (lesson
// 06, "14. Captions measured from the images"). An image gets the second word when its value is above its
// class's median, the first otherwise.
//   values        [N] float: one measurement per image (dm::image_brightness or dm::image_size)
//   labels        [N] int64 in 0..num_classes-1: each image's class
//   num_classes   K >= 1; every class must have at least one image (else std::invalid_argument)
//   returns       [K], values' dtype: entry c is the median of the values of the images of class c; for an
//                 even count, the lower of the two middle values (torch::median's convention), so that the
//                 median is always one of the class's own values
torch::Tensor class_medians(const torch::Tensor& values, const torch::Tensor& labels, std::int64_t num_classes);

}  // namespace dm::ch06
