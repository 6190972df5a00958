// The course U-Net (see dm/nn/unet.hpp for the architecture).
#include "dm/nn/unet.hpp"

#include <fmt/core.h>
#include <fmt/format.h>

#include <cmath>
#include <set>
#include <stdexcept>
#include <utility>

#include "dm/errors.hpp"

namespace dm::nn {

namespace {

std::string join(const std::vector<std::int64_t>& v) { return "{" + fmt::format("{}", fmt::join(v, ",")) + "}"; }
std::string join_flag(const std::vector<std::int64_t>& v) { return fmt::format("{}", fmt::join(v, ",")); }

torch::nn::Conv2d conv3(std::int64_t in, std::int64_t out, std::int64_t stride = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1));
}
torch::nn::Conv2d conv1x1(std::int64_t in, std::int64_t out) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1));
}
void zero_init(torch::nn::Conv2d& c) {
  torch::NoGradGuard ng;
  c->weight.zero_();
  if (c->bias.defined()) c->bias.zero_();
}

// Downsample: a stride-2 3x3 conv.        Upsample: nearest x2, then a 3x3 conv.
struct DownsampleImpl : torch::nn::Module {
  explicit DownsampleImpl(std::int64_t ch) { conv = register_module("conv", conv3(ch, ch, /*stride=*/2)); }
  torch::Tensor forward(const torch::Tensor& x) { return conv(x); }
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(Downsample);

struct UpsampleImpl : torch::nn::Module {
  explicit UpsampleImpl(std::int64_t ch) { conv = register_module("conv", conv3(ch, ch)); }
  torch::Tensor forward(const torch::Tensor& x) {
    namespace F = torch::nn::functional;
    auto up = F::interpolate(x, F::InterpolateFuncOptions()
                                    .scale_factor(std::vector<double>{2.0, 2.0})
                                    .mode(torch::kNearest));  // [B, C, H, W] -> [B, C, 2H, 2W]
    return conv(up);
  }
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(Upsample);

}  // namespace

// ---- config ---------------------------------------------------------------------------------------

void UNetConfig::validate() const {
  auto bad = [](const std::string& m) { throw dm::UsageError(m); };
  if (image_size < 4) bad(fmt::format("image_size must be >= 4 (got {})", image_size));
  if (in_channels < 1) bad(fmt::format("in_channels must be >= 1 (got {})", in_channels));
  if (base_width < 1) bad(fmt::format("--width must be >= 1 (got {})", base_width));
  if (channel_mults.empty()) bad("--mults needs at least one level, e.g. 1,2,2");
  if (res_blocks_per_level < 1) bad(fmt::format("--res-blocks must be >= 1 (got {})", res_blocks_per_level));
  if (groups < 1) bad(fmt::format("groups must be >= 1 (got {})", groups));
  if (heads < 1) bad(fmt::format("heads must be >= 1 (got {})", heads));
  if (dropout < 0 || dropout >= 1) bad(fmt::format("--dropout must be in [0, 1) (got {})", dropout));
  if (time_embed_dim < 0 || time_embed_dim % 2)
    bad(fmt::format("time_embed_dim must be 0 or even (got {})", time_embed_dim));
  if (num_classes < 0) bad(fmt::format("num_classes must be >= 0 (got {})", num_classes));
  if (text_vocab < 0) bad(fmt::format("text_vocab must be >= 0 (got {})", text_vocab));
  if (text_vocab > 0) {
    if (num_classes > 0) bad("a U-Net is conditioned on class labels or on text, not both");
    if (text_context < 1 || text_layers < 0 || text_width < 1 || text_width % heads != 0)
      bad(fmt::format("text encoder: context {} (>= 1), {} layers (>= 0), width {} (divisible by {} heads)",
                      text_context, text_layers, text_width, heads));
  }
  const std::int64_t levels = static_cast<std::int64_t>(channel_mults.size());
  const std::int64_t factor = std::int64_t{1} << (levels - 1);
  if (image_size % factor != 0)
    bad(
        fmt::format("--mults {} has {} levels, so the image is halved {} times, but {} is not divisible by {}; "
                    "use at most 3 levels for 28x28 (28 -> 14 -> 7)",
                    join_flag(channel_mults), levels, levels - 1, image_size, factor));
  for (auto m : channel_mults) {
    if (m < 1) bad(fmt::format("--mults entries must be >= 1 (got {})", join_flag(channel_mults)));
    const auto w = base_width * m;
    if (w % groups != 0)
      bad(
          fmt::format("width {} (--width {} x mult {}) is not divisible by the {} GroupNorm groups; pick a "
                      "--width that is a multiple of {}",
                      w, base_width, m, groups, groups));
    if (w % heads != 0) bad(fmt::format("width {} is not divisible by {} attention heads", w, heads));
  }
  // The first conv has base_width channels and the middle block the last level's width: both normed.
  if (base_width % groups != 0) bad(fmt::format("--width {} is not divisible by {} groups", base_width, groups));
}

nlohmann::json UNetConfig::to_json() const {
  nlohmann::json j = {{"image_size", image_size},
                      {"in_channels", in_channels},
                      {"base_width", base_width},
                      {"channel_mults", channel_mults},
                      {"res_blocks_per_level", res_blocks_per_level},
                      {"attention_resolutions", attention_resolutions},
                      {"heads", heads},
                      {"groups", groups},
                      {"dropout", dropout},
                      {"time_embed_dim", time_embed_dim}};
  if (num_classes > 0) j["num_classes"] = num_classes;  // absent: unconditional (files before chapter 06)
  if (text_vocab > 0)
    j["text"] = {{"vocab", text_vocab},
                 {"context", text_context},
                 {"width", text_width},
                 {"layers", text_layers},
                 {"cross_attention_resolutions", cross_attention_resolutions}};
  return j;
}

UNetConfig UNetConfig::from_json(const nlohmann::json& j) {
  UNetConfig c;
  try {
    if (!j.is_object()) throw dm::UserError("U-Net config is not a JSON object: " + j.dump());
    auto get = [&](const char* key, auto& field) {
      if (j.contains(key)) j.at(key).get_to(field);
    };
    get("image_size", c.image_size);
    get("in_channels", c.in_channels);
    get("base_width", c.base_width);
    get("channel_mults", c.channel_mults);
    get("res_blocks_per_level", c.res_blocks_per_level);
    get("attention_resolutions", c.attention_resolutions);
    get("heads", c.heads);
    get("groups", c.groups);
    get("dropout", c.dropout);
    get("time_embed_dim", c.time_embed_dim);
    get("num_classes", c.num_classes);
    if (j.contains("text")) {
      const auto& t = j.at("text");
      t.at("vocab").get_to(c.text_vocab);
      t.at("context").get_to(c.text_context);
      t.at("width").get_to(c.text_width);
      t.at("layers").get_to(c.text_layers);
      t.at("cross_attention_resolutions").get_to(c.cross_attention_resolutions);
    }
  } catch (const nlohmann::json::exception& e) {
    throw dm::UserError(std::string("U-Net config has a value of the wrong type: ") + e.what());
  }
  return c;
}

std::string UNetConfig::describe() const {
  return fmt::format(
      "{}x{}x{}, width {}, mults {}, {} res block(s)/level, attention at {}, {} head(s), {} groups, dropout {}, "
      "time embedding {}{}",
      in_channels, image_size, image_size, base_width, join(channel_mults), res_blocks_per_level,
      join(attention_resolutions), heads, groups, dropout, temb_dim(),
      num_classes > 0 ? fmt::format(", {} classes (+ no label)", num_classes)
      : text_vocab > 0
          ? fmt::format(", text: {} words, context {}, encoder {} wide x {} layers, cross-attention at {}", text_vocab,
                        text_context, text_width, text_layers, join(cross_attention_resolutions))
          : std::string{});
}

std::vector<std::string> UNetConfig::differences(const UNetConfig& run) const {
  std::vector<std::string> out;
  auto diff = [&](const char* field, const std::string& mine, const std::string& theirs, const std::string& flag) {
    if (mine == theirs) return;
    out.push_back(
        flag.empty() ? fmt::format("{} {} (checkpoint) vs {} (this run)", field, mine, theirs)
                     : fmt::format("{} {} (checkpoint) vs {} (this run): pass {} {}", field, mine, theirs, flag, mine));
  };
  diff("image_size", std::to_string(image_size), std::to_string(run.image_size), "");
  diff("in_channels", std::to_string(in_channels), std::to_string(run.in_channels), "");
  diff("base_width", std::to_string(base_width), std::to_string(run.base_width), "--width");
  diff("channel_mults", join_flag(channel_mults), join_flag(run.channel_mults), "--mults");
  diff("res_blocks_per_level", std::to_string(res_blocks_per_level), std::to_string(run.res_blocks_per_level),
       "--res-blocks");
  diff("attention_resolutions", join_flag(attention_resolutions), join_flag(run.attention_resolutions), "--attn");
  diff("heads", std::to_string(heads), std::to_string(run.heads), "");
  diff("groups", std::to_string(groups), std::to_string(run.groups), "");
  diff("dropout", fmt::format("{}", dropout), fmt::format("{}", run.dropout), "--dropout");
  diff("time_embed_dim", std::to_string(temb_dim()), std::to_string(run.temb_dim()), "");
  diff("num_classes", std::to_string(num_classes), std::to_string(run.num_classes), "");
  diff("text_vocab", std::to_string(text_vocab), std::to_string(run.text_vocab), "");
  if (text_vocab > 0 && run.text_vocab > 0) {
    diff("text_context", std::to_string(text_context), std::to_string(run.text_context), "");
    diff("text_width", std::to_string(text_width), std::to_string(run.text_width), "");
    diff("text_layers", std::to_string(text_layers), std::to_string(run.text_layers), "");
    diff("cross_attention_resolutions", join_flag(cross_attention_resolutions),
         join_flag(run.cross_attention_resolutions), "");
  }
  return out;
}

// ---- blocks ---------------------------------------------------------------------------------------

ResBlockImpl::ResBlockImpl(std::int64_t in_ch, std::int64_t out_ch, std::int64_t temb_dim, std::int64_t groups,
                           double dropout) {
  norm1 = register_module("norm1", torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, in_ch)));
  conv1 = register_module("conv1", conv3(in_ch, out_ch));
  film = register_module("film", torch::nn::Linear(temb_dim, 2 * out_ch));
  norm2 = register_module("norm2", torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, out_ch)));
  drop = register_module("drop", torch::nn::Dropout(dropout));
  conv2 = register_module("conv2", conv3(out_ch, out_ch));
  zero_init(conv2);  // the block starts as the identity (its skip path)
  if (in_ch != out_ch) skip = register_module("skip", conv1x1(in_ch, out_ch));
}

torch::Tensor ResBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& temb) {
  auto h = conv1(torch::silu(norm1(x)));                          // [B, out, H, W]
  auto ss = film(torch::silu(temb)).unsqueeze(-1).unsqueeze(-1);  // [B, 2 out] -> [B, 2 out, 1, 1]
  auto chunks = ss.chunk(2, /*dim=*/1);                           // scale, shift: [B, out, 1, 1] each
  h = norm2(h) * (1 + chunks[0]) + chunks[1];
  h = conv2(drop(torch::silu(h)));
  return (skip ? skip(x) : x) + h;
}

AttentionBlockImpl::AttentionBlockImpl(std::int64_t channels, std::int64_t heads_, std::int64_t groups)
    : heads(heads_) {
  norm = register_module("norm", torch::nn::GroupNorm(torch::nn::GroupNormOptions(groups, channels)));
  qkv = register_module("qkv", conv1x1(channels, 3 * channels));
  proj = register_module("proj", conv1x1(channels, channels));
  zero_init(proj);
}

torch::Tensor AttentionBlockImpl::forward(const torch::Tensor& x) {
  const auto B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const auto d = C / heads;
  auto qkv_ = qkv(norm(x)).reshape({B, 3, heads, d, H * W});                 // [B, 3C, H, W] -> [B, 3, heads, d, HW]
  auto q = qkv_.select(1, 0), k = qkv_.select(1, 1), v = qkv_.select(1, 2);  // [B, heads, d, HW]
  auto w = torch::einsum("bhdi,bhdj->bhij", {q, k}) / std::sqrt(double(d));  // [B, heads, HW, HW]
  w = torch::softmax(w, /*dim=*/-1);
  auto h = torch::einsum("bhij,bhdj->bhdi", {w, v}).reshape({B, C, H, W});  // [B, heads, d, HW] -> [B, C, H, W]
  return x + proj(h);
}

// ---- the U-Net ------------------------------------------------------------------------------------

UNetImpl::UNetImpl(const UNetConfig& cfg, TimestepEmbedding embed) : cfg_(cfg), embed_(std::move(embed)) {
  cfg_.validate();
  const auto temb = cfg_.temb_dim();
  const auto G = cfg_.groups;
  const std::set<std::int64_t> attn(cfg_.attention_resolutions.begin(), cfg_.attention_resolutions.end());
  temb1 = register_module("temb1", torch::nn::Linear(cfg_.base_width, temb));
  temb2 = register_module("temb2", torch::nn::Linear(temb, temb));
  if (cfg_.num_classes > 0) {
    label_embed = register_module("label_embed", torch::nn::Embedding(cfg_.num_classes + 1, temb));
    torch::NoGradGuard no_grad;
    label_embed->weight.zero_();  // starts as the unconditional model: every label adds nothing
  }
  conv_in = register_module("conv_in", conv3(cfg_.in_channels, cfg_.base_width));
  const bool text = cfg_.text_vocab > 0;
  const std::set<std::int64_t> xres(cfg_.cross_attention_resolutions.begin(), cfg_.cross_attention_resolutions.end());
  if (text) {
    text_encoder = register_module(
        "text_encoder", TextEncoder(cfg_.text_vocab, cfg_.text_context, cfg_.text_width, cfg_.text_layers, cfg_.heads));
    cross = register_module("cross", torch::nn::ModuleList());
  }
  // a cross-attention block after the module just added to `list` (kinds, cross index per entry)
  auto add_cross = [&](std::vector<int>& where, std::int64_t channels) {
    where.back() = static_cast<int>(cross->size());
    cross->push_back(CrossAttention(channels, cfg_.text_width, cfg_.heads, G));
  };

  down = register_module("down", torch::nn::ModuleList());
  std::vector<std::int64_t> skip_ch = {cfg_.base_width};  // channels of every saved activation
  std::int64_t ch = cfg_.base_width, res = cfg_.image_size;
  const auto levels = static_cast<std::int64_t>(cfg_.channel_mults.size());
  for (std::int64_t l = 0; l < levels; ++l) {
    const auto out = cfg_.base_width * cfg_.channel_mults[l];
    for (std::int64_t r = 0; r < cfg_.res_blocks_per_level; ++r) {
      down->push_back(ResBlock(ch, out, temb, G, cfg_.dropout));
      down_kinds_ += 'R';
      down_cross_.push_back(-1);
      ch = out;
      if (attn.count(res)) {
        down->push_back(AttentionBlock(ch, cfg_.heads, G));
        down_kinds_ += 'A';
        down_cross_.push_back(-1);
      }
      if (text && xres.count(res)) add_cross(down_cross_, ch);
      skip_ch.push_back(ch);
    }
    if (l + 1 < levels) {
      down->push_back(Downsample(ch));
      down_kinds_ += 'D';
      down_cross_.push_back(-1);
      res /= 2;
      skip_ch.push_back(ch);
    }
  }

  mid = register_module("mid", torch::nn::ModuleList());
  mid->push_back(ResBlock(ch, ch, temb, G, cfg_.dropout));
  mid->push_back(AttentionBlock(ch, cfg_.heads, G));
  mid->push_back(ResBlock(ch, ch, temb, G, cfg_.dropout));
  if (text && xres.count(res)) {
    mid_cross_ = static_cast<int>(cross->size());
    cross->push_back(CrossAttention(ch, cfg_.text_width, cfg_.heads, G));
  }

  up = register_module("up", torch::nn::ModuleList());
  for (std::int64_t l = levels - 1; l >= 0; --l) {
    const auto out = cfg_.base_width * cfg_.channel_mults[l];
    for (std::int64_t r = 0; r < cfg_.res_blocks_per_level + 1; ++r) {
      const auto s = skip_ch.back();
      skip_ch.pop_back();
      up->push_back(ResBlock(ch + s, out, temb, G, cfg_.dropout));
      up_kinds_ += 'R';
      up_cross_.push_back(-1);
      ch = out;
      if (attn.count(res)) {
        up->push_back(AttentionBlock(ch, cfg_.heads, G));
        up_kinds_ += 'A';
        up_cross_.push_back(-1);
      }
      if (text && xres.count(res)) add_cross(up_cross_, ch);
    }
    if (l > 0) {
      up->push_back(Upsample(ch));
      up_kinds_ += 'U';
      up_cross_.push_back(-1);
      res *= 2;
    }
  }
  norm_out = register_module("norm_out", torch::nn::GroupNorm(torch::nn::GroupNormOptions(G, ch)));
  conv_out = register_module("conv_out", conv3(ch, cfg_.in_channels));
  zero_init(conv_out);
}

namespace {
torch::Tensor time_embedding(const TimestepEmbedding& embed, const UNetConfig& cfg, const torch::Tensor& x,
                             const torch::Tensor& t) {
  TORCH_CHECK(
      x.dim() == 4 && x.size(1) == cfg.in_channels && x.size(2) == cfg.image_size && x.size(3) == cfg.image_size,
      "UNet: expected x of shape [B, ", cfg.in_channels, ", ", cfg.image_size, ", ", cfg.image_size, "], got ",
      x.sizes());
  TORCH_CHECK(t.dim() == 1 && t.size(0) == x.size(0), "UNet: expected t of shape [B] = [", x.size(0), "], got ",
              t.sizes());
  if (!embed)
    throw std::logic_error(
        "UNet: no timestep embedding; build it with one (chapter 03's dm::ch03::sinusoidal_embedding) or call "
        "set_embedding");
  auto e = embed(t, cfg.base_width);
  TORCH_CHECK(e.dim() == 2 && e.size(0) == t.size(0) && e.size(1) == cfg.base_width,
              "UNet: the timestep embedding must give [B, ", cfg.base_width, "] = [", t.size(0), ", ", cfg.base_width,
              "], got ", e.sizes());
  return e.to(x.scalar_type());
}
}  // namespace

torch::Tensor UNetImpl::forward(const torch::Tensor& x, const torch::Tensor& t) {
  if (label_embed)
    throw std::logic_error(
        "UNet: this U-Net is class-conditional (num_classes = " + std::to_string(cfg_.num_classes) +
        "): call forward(x, t, y) with the labels, or with the id of 'no label' for the unconditional model");
  if (text_encoder)
    throw std::logic_error(
        "UNet: this U-Net is text-conditioned: call forward_text(x, t, ids, mask), with the empty prompt's tokens "
        "for the unconditional model");
  return forward_emb(x, temb2(torch::silu(temb1(time_embedding(embed_, cfg_, x, t)))));
}

torch::Tensor UNetImpl::forward_text(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& ids,
                                     const torch::Tensor& mask) {
  TORCH_CHECK(text_encoder, "UNet: forward_text needs a text-conditioned U-Net (text_vocab > 0); this one is not");
  TORCH_CHECK(ids.dim() == 2 && ids.size(0) == x.size(0) && ids.size(1) == cfg_.text_context &&
                  ids.scalar_type() == torch::kLong && mask.sizes() == ids.sizes() &&
                  mask.scalar_type() == torch::kBool,
              "UNet: expected token ids [B, ", cfg_.text_context, "] int64 and mask [B, ", cfg_.text_context,
              "] bool with B = ", x.size(0), ", got ", ids.sizes(), " ", ids.scalar_type(), " and ", mask.sizes(), " ",
              mask.scalar_type());
  if (ids.numel() > 0) {
    const auto lo = ids.min().item<std::int64_t>(), hi = ids.max().item<std::int64_t>();
    TORCH_CHECK(lo >= 0 && hi < cfg_.text_vocab, "UNet: token ids must be in 0..", cfg_.text_vocab - 1, ", got ", lo,
                "..", hi);
  }
  recorded_.clear();
  const auto context = text_encoder->forward(ids, mask, attend_);  // [B, L, text_width]
  return forward_emb(x, temb2(torch::silu(temb1(time_embedding(embed_, cfg_, x, t)))), &context, &mask);
}

torch::Tensor UNetImpl::cross_at(int index, const torch::Tensor& h, const torch::Tensor* context,
                                 const torch::Tensor* mask) {
  if (index < 0 || !context) return h;
  torch::Tensor w;
  auto out =
      cross[std::size_t(index)]->as<CrossAttention>()->forward(h, *context, *mask, attend_, record_ ? &w : nullptr);
  if (record_) recorded_.push_back(w.detach());  // [B, HW, L]
  return out;
}

torch::Tensor UNetImpl::attention_maps() const {
  TORCH_CHECK(!recorded_.empty(), "UNet: no attention recorded: record_attention(true), then forward_text");
  namespace F = torch::nn::functional;
  torch::Tensor sum;
  for (const auto& w : recorded_) {
    const auto B = w.size(0), HW = w.size(1), L = w.size(2);
    const auto side = static_cast<std::int64_t>(std::lround(std::sqrt(double(HW))));
    auto m = w.transpose(1, 2).reshape({B, L, side, side});
    m = F::interpolate(m, F::InterpolateFuncOptions()
                              .size(std::vector<std::int64_t>{cfg_.image_size, cfg_.image_size})
                              .mode(torch::kBilinear)
                              .align_corners(false));
    sum = sum.defined() ? sum + m : m;
  }
  return sum / double(recorded_.size());
}

torch::Tensor UNetImpl::forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) {
  TORCH_CHECK(label_embed,
              "UNet: forward(x, t, y) needs a class-conditional U-Net (num_classes > 0); this one is "
              "unconditional");
  TORCH_CHECK(y.dim() == 1 && y.size(0) == x.size(0) && y.scalar_type() == torch::kLong,
              "UNet: expected labels y of shape [B] = [", x.size(0), "] int64, got ", y.sizes(), " ", y.scalar_type());
  if (y.numel() > 0) {
    const auto lo = y.min().item<std::int64_t>(), hi = y.max().item<std::int64_t>();
    TORCH_CHECK(lo >= 0 && hi <= cfg_.num_classes, "UNet: label ids must be in 0..", cfg_.num_classes, " (",
                cfg_.num_classes, " classes and one id for 'no label'), got ", lo, "..", hi);
  }
  auto emb = temb2(torch::silu(temb1(time_embedding(embed_, cfg_, x, t)))) + label_embed(y);  // [B, temb]
  return forward_emb(x, emb);
}

torch::Tensor UNetImpl::forward_emb(const torch::Tensor& x, const torch::Tensor& emb, const torch::Tensor* context,
                                    const torch::Tensor* mask) {
  auto h = conv_in(x);  // [B, width, H, W]
  std::vector<torch::Tensor> skips = {h};
  for (std::size_t i = 0; i < down->size(); ++i) {
    switch (down_kinds_[i]) {
      case 'R':
        h = down[i]->as<ResBlock>()->forward(h, emb);
        break;
      case 'A':
        h = down[i]->as<AttentionBlock>()->forward(h);
        break;
      case 'D':
        h = down[i]->as<Downsample>()->forward(h);
        break;
    }
    if (!down_cross_.empty()) h = cross_at(down_cross_[i], h, context, mask);
    // a ResBlock followed by attention saves after the attention
    const bool next_is_attn = i + 1 < down->size() && down_kinds_[i + 1] == 'A';
    if (!next_is_attn) skips.push_back(h);
  }
  h = mid[0]->as<ResBlock>()->forward(h, emb);
  h = mid[1]->as<AttentionBlock>()->forward(h);
  h = cross_at(mid_cross_, h, context, mask);
  h = mid[2]->as<ResBlock>()->forward(h, emb);
  for (std::size_t i = 0; i < up->size(); ++i) {
    switch (up_kinds_[i]) {
      case 'R':
        h = up[i]->as<ResBlock>()->forward(torch::cat({h, skips.back()}, /*dim=*/1), emb);  // concat on channels
        skips.pop_back();
        break;
      case 'A':
        h = up[i]->as<AttentionBlock>()->forward(h);
        break;
      case 'U':
        h = up[i]->as<Upsample>()->forward(h);
        break;
    }
    if (!up_cross_.empty()) h = cross_at(up_cross_[i], h, context, mask);
  }
  return conv_out(torch::silu(norm_out(h)));
}

std::int64_t UNetImpl::num_parameters() const {
  std::int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

void copy_weights(const torch::nn::Module& src, torch::nn::Module& dst) {
  torch::NoGradGuard ng;
  auto sp = src.named_parameters(), dp = dst.named_parameters();
  for (auto& kv : dp) kv.value().copy_(sp[kv.key()]);
  auto sb = src.named_buffers(), db = dst.named_buffers();
  for (auto& kv : db) kv.value().copy_(sb[kv.key()]);
}

std::vector<std::string> copy_shared_weights(const torch::nn::Module& src, torch::nn::Module& dst) {
  torch::NoGradGuard ng;
  std::vector<std::string> left;
  auto copy = [&](const torch::OrderedDict<std::string, torch::Tensor>& from,
                  torch::OrderedDict<std::string, torch::Tensor> to) {
    for (const auto& kv : from)
      if (!to.contains(kv.key()))
        throw dm::UserError(fmt::format("the weights hold {}, which this model does not have", kv.key()));
    for (auto& kv : to) {
      const auto* s = from.find(kv.key());
      if (!s) {
        left.push_back(kv.key());
        continue;
      }
      if (s->sizes() != kv.value().sizes())
        throw dm::UserError(fmt::format("{} is {} in the weights, {} in this model", kv.key(),
                                        fmt::join(s->sizes(), "x"), fmt::join(kv.value().sizes(), "x")));
      kv.value().copy_(*s);
    }
  };
  copy(src.named_parameters(), dst.named_parameters());
  copy(src.named_buffers(), dst.named_buffers());
  return left;
}

}  // namespace dm::nn
