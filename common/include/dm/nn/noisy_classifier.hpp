// The noise-aware classifier of classifier guidance (chapter 06): p_phi(y | x_t, t), trained on noised
// images at every timestep, so that its gradient in x_t means something along the whole reverse process
// (Dhariwal & Nichol 2021, section 4). It is not the course's evaluation classifier (dm/eval/classifier.hpp):
// separate weights, trained on noised images; the evaluation classifier, trained on clean images, judges
// what guidance produces.
//
//   dm::nn::NoisyClassifier clf(dm::nn::NoisyClassifierConfig{}, embedding);  // embedding: chapter 03's 03.1
//   auto logits = clf->forward(x_t, t);  // x_t [B, 1, 28, 28] float, t [B] int64 -> [B, 10]
//
// Architecture (about 0.33 M parameters with the defaults):
//   t -> the timestep embedding (embed_dim wide; the caller's) -> Linear -> SiLU -> Linear = temb
//   stem   3x3 conv 1 -> w                                     [B, w, 28, 28]
//   three residual blocks w -> 2w -> 4w -> 8w, each stride 2   [B, 8w, 4, 4]
//   GroupNorm -> SiLU -> global average pool -> Linear to the classes (the logits)
// A block: 3x3 conv (stride 2) -> + Linear(temb) as a per-channel shift -> GroupNorm -> SiLU -> 3x3 conv
// -> GroupNorm, plus a 1x1 stride-2 conv shortcut, then SiLU. GroupNorm, not BatchNorm: a sample's
// gradient must not depend on the other images of its batch (a sampler's batch is whatever it is).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include <torch/nn.h>
#include <nlohmann/json.hpp>

#include "dm/nn/unet.hpp"  // TimestepEmbedding

namespace dm::nn {

inline constexpr int kNoisyClassifierVersion = 1;

struct NoisyClassifierConfig {
  std::int64_t width = 16;        // channels of the stem; the blocks have 2, 4 and 8 times as many
  std::int64_t embed_dim = 64;    // width of the timestep embedding the caller's function returns
  std::int64_t num_classes = 10;  // logits per image
  std::int64_t groups = 8;        // GroupNorm groups (width must divide by it)
  void validate() const;          // dm::UsageError naming the field
  nlohmann::json to_json() const;
  static NoisyClassifierConfig from_json(const nlohmann::json& j);  // dm::UserError for a bad value
};

struct NoisyBlockImpl : torch::nn::Module {
  NoisyBlockImpl(std::int64_t in, std::int64_t out, std::int64_t temb_dim, std::int64_t groups);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& temb);  // [B, in, H, W] -> [B, out, H/2, W/2]
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, skip{nullptr};
  torch::nn::Linear shift{nullptr};
  torch::nn::GroupNorm norm1{nullptr}, norm2{nullptr};
};
TORCH_MODULE(NoisyBlock);

struct NoisyClassifierImpl : torch::nn::Module {
  explicit NoisyClassifierImpl(const NoisyClassifierConfig& cfg, TimestepEmbedding embed);
  // The class scores (before softmax): x_t [B, 1, 28, 28] float, t [B] int64 on x_t's device -> [B, K].
  torch::Tensor forward(const torch::Tensor& x_t, const torch::Tensor& t);
  std::int64_t num_parameters() const;
  const NoisyClassifierConfig& config() const { return cfg_; }

  torch::nn::Sequential time_mlp{nullptr};
  torch::nn::Conv2d stem{nullptr};
  NoisyBlock block1{nullptr}, block2{nullptr}, block3{nullptr};
  torch::nn::GroupNorm norm_out{nullptr};
  torch::nn::Linear head{nullptr};

 private:
  NoisyClassifierConfig cfg_;
  TimestepEmbedding embed_;
};
TORCH_MODULE(NoisyClassifier);

// Saves the weights with the config and `meta` (the schedule's T, the steps, the accuracy) in the header,
// atomically (a course tensor file, kind "noisy_classifier").
void save_noisy_classifier(const std::filesystem::path& path, NoisyClassifier& model, nlohmann::json meta);

struct LoadedNoisyClassifier {
  NoisyClassifier model{nullptr};
  nlohmann::json meta;
};
// Builds the classifier its file describes and loads it (eval mode, on `device`). A missing file, another
// kind of file (a U-Net, the evaluation classifier), another version, a bad config or a sha256 other than
// expect_sha256 (when given) is a dm::UserError that names the file.
LoadedNoisyClassifier load_noisy_classifier(const std::filesystem::path& path, const torch::Device& device,
                                            TimestepEmbedding embed, const std::string& expect_sha256 = "");

}  // namespace dm::nn
