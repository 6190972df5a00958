// The noise-aware classifier p_phi(y | x_t, t) of classifier guidance (dm/nn/noisy_classifier.hpp).
#include "dm/nn/noisy_classifier.hpp"

#include <torch/torch.h>

#include <fmt/format.h>

#include "dm/errors.hpp"
#include "dm/io/tensor_file.hpp"

namespace dm::nn {

namespace tnn = torch::nn;

void NoisyClassifierConfig::validate() const {
  if (width < 1 || groups < 1 || width % groups != 0)
    throw UsageError(fmt::format("noisy classifier: width {} must be a positive multiple of groups {}", width, groups));
  if (embed_dim < 2 || embed_dim % 2 != 0)
    throw UsageError(fmt::format("noisy classifier: embed_dim {} must be even and >= 2", embed_dim));
  if (num_classes < 2) throw UsageError(fmt::format("noisy classifier: num_classes {} must be >= 2", num_classes));
}

nlohmann::json NoisyClassifierConfig::to_json() const {
  return {{"width", width}, {"embed_dim", embed_dim}, {"num_classes", num_classes}, {"groups", groups}};
}

NoisyClassifierConfig NoisyClassifierConfig::from_json(const nlohmann::json& j) {
  NoisyClassifierConfig c;
  try {
    c.width = j.value("width", c.width);
    c.embed_dim = j.value("embed_dim", c.embed_dim);
    c.num_classes = j.value("num_classes", c.num_classes);
    c.groups = j.value("groups", c.groups);
  } catch (const nlohmann::json::exception& e) {
    throw UserError(std::string("noisy classifier config: ") + e.what());
  }
  try {
    c.validate();
  } catch (const UsageError& e) {
    throw UserError(e.what());
  }
  return c;
}

NoisyBlockImpl::NoisyBlockImpl(std::int64_t in, std::int64_t out, std::int64_t temb_dim, std::int64_t groups) {
  conv1 = register_module("conv1", tnn::Conv2d(tnn::Conv2dOptions(in, out, 3).stride(2).padding(1)));
  shift = register_module("shift", tnn::Linear(temb_dim, out));
  norm1 = register_module("norm1", tnn::GroupNorm(groups, out));
  conv2 = register_module("conv2", tnn::Conv2d(tnn::Conv2dOptions(out, out, 3).padding(1)));
  norm2 = register_module("norm2", tnn::GroupNorm(groups, out));
  skip = register_module("skip", tnn::Conv2d(tnn::Conv2dOptions(in, out, 1).stride(2)));
}

torch::Tensor NoisyBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& temb) {
  auto h = conv1(x) + shift(temb).unsqueeze(-1).unsqueeze(-1);  // the timestep shifts every channel
  h = torch::silu(norm1(h));
  h = norm2(conv2(h));
  return torch::silu(h + skip(x));
}

NoisyClassifierImpl::NoisyClassifierImpl(const NoisyClassifierConfig& cfg, TimestepEmbedding embed)
    : cfg_(cfg), embed_(std::move(embed)) {
  cfg_.validate();
  if (!embed_) throw UsageError("noisy classifier: no timestep embedding given (pass chapter 03's)");
  const auto w = cfg_.width, temb = 4 * cfg_.width;
  time_mlp = register_module("time_mlp",
                             tnn::Sequential(tnn::Linear(cfg_.embed_dim, temb), tnn::SiLU(), tnn::Linear(temb, temb)));
  stem = register_module("stem", tnn::Conv2d(tnn::Conv2dOptions(1, w, 3).padding(1)));
  block1 = register_module("block1", NoisyBlock(w, 2 * w, temb, cfg_.groups));      // 28 -> 14
  block2 = register_module("block2", NoisyBlock(2 * w, 4 * w, temb, cfg_.groups));  // 14 -> 7
  block3 = register_module("block3", NoisyBlock(4 * w, 8 * w, temb, cfg_.groups));  // 7 -> 4
  norm_out = register_module("norm_out", tnn::GroupNorm(cfg_.groups, 8 * w));
  head = register_module("head", tnn::Linear(8 * w, cfg_.num_classes));
}

torch::Tensor NoisyClassifierImpl::forward(const torch::Tensor& x_t, const torch::Tensor& t) {
  TORCH_CHECK(x_t.dim() == 4 && x_t.size(1) == 1, "noisy classifier: x_t must be [B, 1, H, W], got ", x_t.sizes());
  TORCH_CHECK(t.dim() == 1 && t.size(0) == x_t.size(0), "noisy classifier: t must be [B] with B = ", x_t.size(0),
              ", got ", t.sizes());
  const auto e = embed_(t.to(x_t.device(), torch::kLong), cfg_.embed_dim).to(x_t.scalar_type());
  const auto temb = time_mlp->forward(e);
  auto h = stem(x_t);
  h = block3(block2(block1(h, temb), temb), temb);
  h = torch::silu(norm_out(h)).mean({2, 3});  // [B, 8w]
  return head(h);
}

std::int64_t NoisyClassifierImpl::num_parameters() const {
  std::int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

void save_noisy_classifier(const std::filesystem::path& path, NoisyClassifier& model, nlohmann::json meta) {
  if (meta.is_null()) meta = nlohmann::json::object();
  meta["kind"] = "noisy_classifier";
  meta["version"] = kNoisyClassifierVersion;
  meta["config"] = model->config().to_json();
  dm::io::save_module(path, *model, meta);
}

LoadedNoisyClassifier load_noisy_classifier(const std::filesystem::path& path, const torch::Device& device,
                                            TimestepEmbedding embed, const std::string& expect_sha256) {
  if (!std::filesystem::exists(path))
    throw UserError(
        fmt::format("noise-aware classifier {} does not exist: train one with chapter 06's program "
                    "(it writes runs/06_guidance/classifier.dmt), or restore the course's with "
                    "`git checkout -- reference/`",
                    path.string()));
  const auto header = dm::io::read_tensor_header(path);
  const auto kind = header.meta.value("kind", std::string{});
  const auto version = header.meta.value("version", -1);
  if (kind != "noisy_classifier" || version != kNoisyClassifierVersion)
    throw UserError(
        fmt::format("{} is not a version-{} noise-aware classifier (kind '{}', version {}): pass the "
                    "classifier.dmt that chapter 06 writes",
                    path.string(), kNoisyClassifierVersion, kind.empty() ? "none" : kind, version));
  const auto cfg = NoisyClassifierConfig::from_json(header.meta.value("config", nlohmann::json::object()));
  LoadedNoisyClassifier out{NoisyClassifier(cfg, std::move(embed)), {}};
  out.meta = dm::io::load_module(path, *out.model, expect_sha256);
  out.model->to(device);
  out.model->eval();
  return out;
}

}  // namespace dm::nn
