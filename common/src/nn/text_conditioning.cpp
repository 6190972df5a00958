// The text encoder and the cross-attention block (dm/nn/text_conditioning.hpp).
#include "dm/nn/text_conditioning.hpp"

#include <stdexcept>

namespace dm::nn {

torch::Tensor multi_head(const AttentionFn& attend, const torch::Tensor& q, const torch::Tensor& k,
                         const torch::Tensor& v, const torch::Tensor& mask, std::int64_t heads,
                         torch::Tensor* weights_out) {
  if (!attend)
    throw std::logic_error(
        "text conditioning: no attention function; pass one (chapter 06's dm::ch06::cross_attention) with "
        "UNet::set_attention");
  const auto B = q.size(0), N = q.size(1), L = k.size(1), C = q.size(2), d = C / heads;
  auto fold = [&](const torch::Tensor& x, std::int64_t n) {  // [B, n, C] -> [B * heads, n, d]
    return x.reshape({B, n, heads, d}).permute({0, 2, 1, 3}).reshape({B * heads, n, d});
  };
  const auto m = mask.unsqueeze(1).expand({B, heads, L}).reshape({B * heads, L});
  auto r = attend(fold(q, N), fold(k, L), fold(v, L), m);
  if (weights_out) *weights_out = r.weights.reshape({B, heads, N, L}).mean(1);
  return r.output.reshape({B, heads, N, d}).permute({0, 2, 1, 3}).reshape({B, N, C});
}

namespace {
struct EncoderBlockImpl : torch::nn::Module {
  EncoderBlockImpl(std::int64_t width) {
    norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
    qkv = register_module("qkv", torch::nn::Linear(width, 3 * width));
    proj = register_module("proj", torch::nn::Linear(width, width));
    norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
    fc1 = register_module("fc1", torch::nn::Linear(width, 4 * width));
    fc2 = register_module("fc2", torch::nn::Linear(4 * width, width));
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask, const AttentionFn& attend,
                        std::int64_t heads) {
    auto qkv_ = qkv(norm1(x)).chunk(3, -1);  // [B, L, width] each
    auto h = x + proj(multi_head(attend, qkv_[0], qkv_[1], qkv_[2], mask, heads));
    return h + fc2(torch::gelu(fc1(norm2(h))));
  }
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  torch::nn::Linear qkv{nullptr}, proj{nullptr}, fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(EncoderBlock);
}  // namespace

TextEncoderImpl::TextEncoderImpl(std::int64_t vocab, std::int64_t context, std::int64_t width, std::int64_t layers,
                                 std::int64_t heads_)
    : heads(heads_) {
  token = register_module("token", torch::nn::Embedding(vocab, width));
  position = register_parameter("position", torch::randn({context, width}) * 0.02);
  {
    torch::NoGradGuard ng;
    token->weight.normal_(0, 0.02);
  }
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < layers; ++i) blocks->push_back(EncoderBlock(width));
  norm_out = register_module("norm_out", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
}

torch::Tensor TextEncoderImpl::forward(const torch::Tensor& ids, const torch::Tensor& mask, const AttentionFn& attend) {
  TORCH_CHECK(ids.dim() == 2 && ids.size(1) == position.size(0) && mask.sizes() == ids.sizes(),
              "TextEncoder: expected ids and mask of shape [B, ", position.size(0), "], got ", ids.sizes(), " and ",
              mask.sizes());
  auto h = token(ids) + position.unsqueeze(0);  // [B, L, width]
  for (auto& b : *blocks) h = b->as<EncoderBlock>()->forward(h, mask, attend, heads);
  return norm_out(h);
}

CrossAttentionImpl::CrossAttentionImpl(std::int64_t channels, std::int64_t context_width, std::int64_t heads_,
                                       std::int64_t groups)
    : heads(heads_) {
  norm = register_module("norm", torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, channels)));
  q = register_module("q", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, channels, 1)));
  k = register_module("k", torch::nn::Linear(context_width, channels));
  v = register_module("v", torch::nn::Linear(context_width, channels));
  proj = register_module("proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, channels, 1)));
  torch::NoGradGuard ng;
  proj->weight.zero_();
  proj->bias.zero_();
}

torch::Tensor CrossAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& context,
                                          const torch::Tensor& mask, const AttentionFn& attend,
                                          torch::Tensor* weights_out) {
  const auto B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  auto queries = q(norm(x)).flatten(2).transpose(1, 2);                                    // [B, HW, C]
  auto h = multi_head(attend, queries, k(context), v(context), mask, heads, weights_out);  // [B, HW, C]
  return x + proj(h.transpose(1, 2).reshape({B, C, H, W}));
}

}  // namespace dm::nn
