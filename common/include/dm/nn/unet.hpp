// The course's U-Net for 28x28 Fashion-MNIST (chapter 03 on): eps_theta(x_t, t).
//
//   dm::nn::UNetConfig cfg;            // defaults: the quick CPU model
//   cfg.base_width = 64;               // the GPU recipe
//   dm::nn::UNet net(cfg, embedding);  // embedding: chapter 03's exercise 03.1, passed in
//   auto eps = net->forward(x_t, t);   // x_t [B, 1, 28, 28] float, t [B] int64 -> [B, 1, 28, 28]
//
// Architecture (Ho et al. 2020, as in their TF code and diffusers' UNet2DModel, smaller):
//   t -> the timestep embedding (base_width wide; the caller's, e.g. dm::ch03::sinusoidal_embedding)
//     -> Linear -> SiLU -> Linear = temb (time_embed_dim wide)
//   x -> 3x3 conv to base_width
//   down path, one level per entry of channel_mults (width = base_width * mult):
//       res_blocks_per_level ResBlocks (+ self-attention if the level's resolution is listed in
//       attention_resolutions), then a stride-2 3x3 conv (not after the last level)
//   middle: ResBlock, attention, ResBlock at the lowest resolution
//   up path, mirror image: res_blocks_per_level + 1 ResBlocks per level, each taking the
//       concatenation with one saved skip activation; nearest x2 upsample + 3x3 conv between levels
//   out: GroupNorm -> SiLU -> 3x3 conv to in_channels (zero-initialised: eps_theta starts at 0)
//   labels (num_classes > 0, chapter 06): y -> Embedding(num_classes + 1, time_embed_dim), added to temb
//   text (text_vocab > 0, chapter 06): token ids -> TextEncoder (dm/nn/text_conditioning.hpp) -> [B, L, text_width];
//       a CrossAttention block after every ResBlock (and its self-attention) at the resolutions listed in
//       cross_attention_resolutions, and after the middle attention when the lowest resolution is listed
// ResBlock: GroupNorm -> SiLU -> conv -> GroupNorm * (1 + scale) + shift (FiLM from temb) -> SiLU
//   -> dropout -> conv (zero-initialised) ; plus a 1x1 conv skip when the width changes.
//
// Resolution: no padding to 32. 28 -> 14 -> 7 with channel_mults {1, 2, 2}: every level halves
// exactly, so image_size must be divisible by 2^(levels - 1) (28 allows at most 3 levels);
// UNetConfig::validate() says so otherwise.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/nn.h>
#include <nlohmann/json.hpp>

#include "dm/nn/attention.hpp"
#include "dm/nn/text_conditioning.hpp"

namespace dm::nn {

struct UNetConfig {
  std::int64_t image_size = 28;                           // H = W of the input
  std::int64_t in_channels = 1;                           // 1 for Fashion-MNIST (output has the same)
  std::int64_t base_width = 32;                           // channels of the first level (--width)
  std::vector<std::int64_t> channel_mults = {1, 2, 2};    // width of level l = base_width * mults[l] (--mults)
  std::int64_t res_blocks_per_level = 1;                  // ResBlocks per level on the way down (--res-blocks)
  std::vector<std::int64_t> attention_resolutions = {7};  // resolutions with self-attention (--attn)
  std::int64_t heads = 1;                                 // attention heads (width must divide by it)
  std::int64_t groups = 8;                                // GroupNorm groups (every width must divide by it)
  double dropout = 0.0;                                   // dropout inside ResBlocks (--dropout)
  std::int64_t time_embed_dim = 0;                        // 0: 4 * base_width (DDPM's choice)
  // Class conditioning (chapter 06): 0 = unconditional. With K > 0 the U-Net learns K + 1 label
  // embeddings (temb_dim wide, added to the time embedding): the K classes and one more row for "no
  // label", the id the caller passes for the unconditional model (classifier-free guidance; chapter 06
  // derives that id from K). The rows start at zero, so a conditional U-Net initialised from an
  // unconditional one computes exactly what it did, whatever the label.
  std::int64_t num_classes = 0;
  // Text conditioning (chapter 06, part 4): 0 = none. With a vocabulary of V > 0 words the U-Net owns a text
  // encoder (trained with it) and cross-attention blocks, whose output projections start at zero, so a
  // text U-Net initialised from an unconditional one computes exactly what it did, whatever the prompt.
  std::int64_t text_vocab = 0;
  std::int64_t text_context = 8;  // tokens per prompt, <start> included
  std::int64_t text_width = 64;   // the encoder's width (keys and values come from it)
  std::int64_t text_layers = 2;   // transformer blocks of the encoder
  std::vector<std::int64_t> cross_attention_resolutions = {14, 7};  // where image features read the tokens

  std::int64_t temb_dim() const { return time_embed_dim > 0 ? time_embed_dim : 4 * base_width; }

  // Throws dm::UsageError naming the flag when a field is out of range (width not divisible by
  // groups, image_size not divisible by 2^(levels-1), empty mults, ...).
  void validate() const;

  nlohmann::json to_json() const;
  // Missing keys keep their defaults; a value of the wrong type is a dm::UserError.
  static UNetConfig from_json(const nlohmann::json& j);

  // "width 32, mults {1,2,2}, 1 res block/level, attention at {7}, ..." (one line).
  std::string describe() const;

  // Human-readable differences, each naming the field, both values and the flag that sets it:
  // "base_width 64 (checkpoint) vs 32 (this run): pass --width 64". Empty when equal.
  std::vector<std::string> differences(const UNetConfig& run) const;

  bool operator==(const UNetConfig& o) const { return differences(o).empty(); }
  bool operator!=(const UNetConfig& o) const { return !(*this == o); }
};

// The timestep embedding the U-Net is conditioned on, called as embed(t, dim): t [B] int64 on the
// input's device -> [B, dim] float32. The library has none of its own: chapter 03's program passes the
// student's exercise 03.1 (dm::ch03::sinusoidal_embedding), and so does every chapter that loads its
// model, so a checkpoint's weights always meet the embedding they were trained with.
using TimestepEmbedding = std::function<torch::Tensor(const torch::Tensor& t, std::int64_t dim)>;

// One residual block with FiLM time conditioning.
struct ResBlockImpl : torch::nn::Module {
  ResBlockImpl(std::int64_t in_ch, std::int64_t out_ch, std::int64_t temb_dim, std::int64_t groups, double dropout);
  // x [B, in_ch, H, W], temb [B, temb_dim] -> [B, out_ch, H, W]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& temb);

  torch::nn::GroupNorm norm1{nullptr}, norm2{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, skip{nullptr};  // skip: null when in_ch == out_ch
  torch::nn::Linear film{nullptr};                                  // temb -> [scale, shift], 2 * out_ch
  torch::nn::Dropout drop{nullptr};
};
TORCH_MODULE(ResBlock);

// Multi-head self-attention over the H*W positions, residual: x + proj(attn(norm(x))).
struct AttentionBlockImpl : torch::nn::Module {
  AttentionBlockImpl(std::int64_t channels, std::int64_t heads, std::int64_t groups);
  torch::Tensor forward(const torch::Tensor& x);  // [B, C, H, W] -> [B, C, H, W]

  std::int64_t heads;
  torch::nn::GroupNorm norm{nullptr};
  torch::nn::Conv2d qkv{nullptr}, proj{nullptr};  // 1x1 convs; proj zero-initialised
};
TORCH_MODULE(AttentionBlock);

struct UNetImpl : torch::nn::Module {
  // Validates cfg (dm::UsageError) and builds the network on the CPU; use ->to(device) after.
  // forward() needs an embedding: here, or later with set_embedding (a model built only to hold
  // weights, as the checkpoint loader does, needs none).
  explicit UNetImpl(const UNetConfig& cfg, TimestepEmbedding embed = nullptr);
  void set_embedding(TimestepEmbedding embed) { embed_ = std::move(embed); }

  // eps_theta(x_t, t).
  //   x  [B, in_channels, image_size, image_size] float32
  //   t  [B] int64 timestep indices (0..T-1) on x's device
  //   returns [B, in_channels, image_size, image_size] float32
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t);
  // eps_theta(x_t, t, y) of a class-conditional U-Net (config().num_classes = K > 0).
  //   y  [B] int64 label ids on x's device, each in 0..K (K + 1 rows: the caller's id for "no label" is
  //      one of them); an id outside 0..K, or a U-Net built with num_classes = 0, is a c10::Error
  // forward(x, t) on a conditional U-Net is a std::logic_error: say which label (or "no label") you mean.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y);
  // eps_theta(x_t, t, prompt) of a text-conditioned U-Net (config().text_vocab > 0).
  //   ids   [B, text_context] int64 token ids (dm::Vocabulary::encode), mask [B, text_context] bool
  // Needs an attention function (set_attention): chapter 06's program passes the student's 06.12.
  torch::Tensor forward_text(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& ids,
                             const torch::Tensor& mask);
  void set_attention(AttentionFn attend) { attend_ = std::move(attend); }
  // While on, forward_text keeps each cross-attention block's weights; attention_maps() returns them
  // averaged over heads and blocks, each block's map resized to the image: [B, L, image_size, image_size].
  void record_attention(bool on) { record_ = on; }
  torch::Tensor attention_maps() const;

  const UNetConfig& config() const { return cfg_; }
  std::int64_t num_parameters() const;

 private:
  UNetConfig cfg_;
  TimestepEmbedding embed_;
  torch::Tensor forward_emb(const torch::Tensor& x, const torch::Tensor& emb, const torch::Tensor* context = nullptr,
                            const torch::Tensor* mask = nullptr);
  torch::Tensor cross_at(int index, const torch::Tensor& h, const torch::Tensor* context, const torch::Tensor* mask);
  AttentionFn attend_;
  bool record_ = false;
  std::vector<torch::Tensor> recorded_;  // [B, HW, L] per cross-attention block of the last forward_text
  TextEncoder text_encoder{nullptr};
  torch::nn::ModuleList cross{nullptr};     // the CrossAttention blocks (kept apart: the other names do not move)
  std::vector<int> down_cross_, up_cross_;  // per entry of down / up: the cross block after it, or -1
  int mid_cross_ = -1;
  torch::nn::Linear temb1{nullptr}, temb2{nullptr};
  torch::nn::Embedding label_embed{nullptr};  // num_classes > 0 only: [num_classes + 1, temb_dim]
  torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
  torch::nn::GroupNorm norm_out{nullptr};
  torch::nn::ModuleList down{nullptr}, up{nullptr}, mid{nullptr};
  // What each entry of `down` / `up` is: 'R' ResBlock, 'A' attention, 'D' downsample, 'U' upsample.
  std::string down_kinds_, up_kinds_;
};
TORCH_MODULE(UNet);

// Copies every parameter and buffer of `src` into `dst` (same architecture), without autograd.
void copy_weights(const torch::nn::Module& src, torch::nn::Module& dst);

// The same for a `dst` that adds modules to `src` (a conditional U-Net initialised from an unconditional
// one): every tensor of dst that src has (same name and shape) is copied; returns the names of those it
// does not have, left as dst initialised them. A tensor of src that dst lacks, or one of another shape,
// is a dm::UserError naming it.
std::vector<std::string> copy_shared_weights(const torch::nn::Module& src, torch::nn::Module& dst);

}  // namespace dm::nn
