// The course's frozen Fashion-MNIST classifier: the feature extractor behind
// FID/KID/precision/recall (dm/eval/evaluator.hpp). No Inception weights are
// available offline, and Inception is badly calibrated on 28x28 grayscale, so
// the course trains this small ResNet once, deterministically, and commits it
// (course_classifier_path() below).
//
// Architecture (about 0.29 M parameters; input [N, 1, 28, 28] in [-1, 1]):
//   stem   conv3x3 1->16, BatchNorm, ReLU                      [N, 16, 28, 28]
//   stage1 residual block 16 -> 32, stride 2                   [N, 32, 14, 14]
//   stage2 residual block 32 -> 64, stride 2                   [N, 64,  7,  7]
//   stage3 residual block 64 -> 128, stride 2                  [N, 128, 4,  4]
//   global average pool -> features                            [N, 128]
//   linear 128 -> 10 -> logits                                 [N, 10]
// A residual block is conv3x3(stride)-BN-ReLU-conv3x3-BN plus a shortcut
// (identity, or conv1x1(stride)-BN when the shape changes), then ReLU.
// The stem is narrow and every stage downsamples, to keep training on a 2-core
// CPU to minutes (the 28x28 activations are the expensive part; a 32-channel
// stem measured about 1.5x slower per step, on a busy machine); it reaches
// 91.6 % test accuracy in 2 epochs (lesson 03, "Features from our own classifier").
//
// Include this header only where you need the module itself (it pulls in
// <torch/nn.h>); chapter programs use dm::eval::Evaluator instead.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include <torch/nn.h>
#include <nlohmann/json.hpp>

#include "dm/data/fashion_mnist.hpp"

namespace dm::eval {

// Bumped whenever the architecture or the training recipe changes; stored in the
// tensor file's meta, so a file of another version is refused.
inline constexpr int kClassifierVersion = 1;
inline constexpr std::int64_t kFeatureDim = 128;

struct ResidualBlockImpl : torch::nn::Module {
  ResidualBlockImpl(std::int64_t in_channels, std::int64_t out_channels, std::int64_t stride);
  torch::Tensor forward(const torch::Tensor& x);  // [N, Cin, H, W] -> [N, Cout, H/stride, W/stride]

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential shortcut{nullptr};  // empty: identity
};
TORCH_MODULE(ResidualBlock);

struct FmnistClassifierImpl : torch::nn::Module {
  FmnistClassifierImpl();
  // Penultimate features after global average pooling: [N, 1, 28, 28] -> [N, 128].
  torch::Tensor features(const torch::Tensor& x);
  // Class scores (before softmax): [N, 1, 28, 28] -> [N, 10].
  torch::Tensor logits(const torch::Tensor& x);
  torch::Tensor forward(const torch::Tensor& x) { return logits(x); }

  torch::nn::Sequential stem{nullptr};
  ResidualBlock stage1{nullptr}, stage2{nullptr}, stage3{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(FmnistClassifier);

struct ClassifierTrainOptions {
  int epochs = 2;                 // passes over the training set
  std::int64_t batch_size = 128;  // images per step
  double lr = 3e-3;               // peak learning rate (AdamW, one-cycle: linear warmup, cosine decay)
  double weight_decay = 5e-4;     // AdamW decoupled weight decay
  double label_smoothing = 0.0;   // 0: plain cross-entropy (keeps confidences honest)
  bool augment = false;           // random horizontal flip + random shift by up to 2 pixels (optional)
  std::uint64_t seed = 0;         // torch::manual_seed and the std::mt19937_64 that orders the data
  torch::Device device = torch::kCPU;
  // Called every `log_every` steps with (step, total_steps, running loss); may be empty.
  std::function<void(std::int64_t, std::int64_t, double)> on_progress;
  std::int64_t log_every = 50;
};

// Trains a fresh FmnistClassifier on `train` (images [N, 1, 28, 28] in [-1, 1],
// labels [N]) and returns it in eval mode on opts.device.
//
// Determinism: torch::manual_seed(opts.seed) before the weights are created,
// the data order (and augmentation draws) from a std::mt19937_64 seeded with
// opts.seed, and only deterministic CPU ops (convolution, BatchNorm, AdamW).
// Two runs with the same seed, data and torch thread count give bit-identical
// weights on the CPU; a different thread count may change the summation order
// inside convolutions and so the last bits (same accuracy to ~0.1 %). On CUDA,
// cuDNN may pick nondeterministic kernels unless
// at::globalContext().setDeterministicCuDNN(true) is set by the caller.
// Speed: it runs on torch's current intra-op threads. On a machine whose cores
// are busy with other jobs, 2 OpenMP threads measured about 6x more CPU time
// per step than 1 (183 ms vs 1181 ms per batch of 128): spinning threads that
// wait for a descheduled partner. One thread is then the faster choice.
FmnistClassifier train_classifier(const ImageDataset& train, const ClassifierTrainOptions& opts);

// Top-1 accuracy of `model` on `data` (evaluated in eval mode, batches of
// `batch_size`, no gradients). Returns a fraction in [0, 1].
double classifier_accuracy(FmnistClassifier& model, const ImageDataset& data, std::int64_t batch_size = 1000);

// Runs `fn` (features or logits) over `images` in batches without gradients,
// moving each batch to the model's device; the result is concatenated on the CPU.
torch::Tensor batched_apply(const std::function<torch::Tensor(const torch::Tensor&)>& fn, const torch::Tensor& images,
                            torch::Device device, std::int64_t batch_size = 1000);

// The classifier every chapter measures with: trained once by `./course train-classifier` (seed 0, the
// options above) and committed as a tensor file (dm/io/tensor_file.hpp), with its provenance and sha256
// in the JSON beside it, so an FID means the same on every machine and LibTorch version.
//   reference/fmnist_classifier.dmt   weights and BatchNorm buffers, float32; meta: version, accuracy, ...
//   reference/fmnist_classifier.json  sha256, bytes, accuracy, the command, commit and wall time
std::filesystem::path course_classifier_path();
std::filesystem::path course_classifier_provenance_path();

// Saves the weights (and BatchNorm buffers) to `path` as a tensor file, atomically, with `meta` (the
// training recipe, the accuracy) in its header; the version and feature size are added.
void save_classifier(FmnistClassifier& model, const std::filesystem::path& path,
                     nlohmann::json meta = nlohmann::json::object());

// Loads weights saved by save_classifier into a fresh model on `device`, in eval mode, and returns the
// file's meta in *meta when given. A missing, truncated or foreign file, another classifier version, or
// a sha256 other than expect_sha256 (when not empty) is a dm::UserError that names the file and says
// what to do.
FmnistClassifier load_classifier(const std::filesystem::path& path, torch::Device device = torch::kCPU,
                                 const std::string& expect_sha256 = "", nlohmann::json* meta = nullptr);

}  // namespace dm::eval
