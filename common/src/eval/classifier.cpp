// The course's Fashion-MNIST classifier: a small ResNet, trained once,
// deterministically, with AdamW and a one-cycle learning rate.
#include "dm/eval/classifier.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include <torch/torch.h>

#include <fmt/format.h>

#include "dm/errors.hpp"
#include "dm/io/reference.hpp"
#include "dm/io/tensor_file.hpp"

namespace dm::eval {

namespace nn = torch::nn;

namespace {
nn::Conv2d conv3x3(std::int64_t in, std::int64_t out, std::int64_t stride) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false));
}
}  // namespace

ResidualBlockImpl::ResidualBlockImpl(std::int64_t in_channels, std::int64_t out_channels, std::int64_t stride) {
  conv1 = register_module("conv1", conv3x3(in_channels, out_channels, stride));
  bn1 = register_module("bn1", nn::BatchNorm2d(out_channels));
  conv2 = register_module("conv2", conv3x3(out_channels, out_channels, 1));
  bn2 = register_module("bn2", nn::BatchNorm2d(out_channels));
  shortcut = register_module("shortcut", nn::Sequential());
  if (stride != 1 || in_channels != out_channels) {
    shortcut->push_back(nn::Conv2d(nn::Conv2dOptions(in_channels, out_channels, 1).stride(stride).bias(false)));
    shortcut->push_back(nn::BatchNorm2d(out_channels));
  }
}

torch::Tensor ResidualBlockImpl::forward(const torch::Tensor& x) {
  auto h = torch::relu(bn1(conv1(x)));  // [N, Cout, H/s, W/s]
  h = bn2(conv2(h));
  auto skip = shortcut->is_empty() ? x : shortcut->forward(x);
  return torch::relu(h + skip);
}

FmnistClassifierImpl::FmnistClassifierImpl() {
  stem = register_module("stem", nn::Sequential(conv3x3(1, 16, 1), nn::BatchNorm2d(16), nn::ReLU()));
  stage1 = register_module("stage1", ResidualBlock(16, 32, 2));   // 28 -> 14
  stage2 = register_module("stage2", ResidualBlock(32, 64, 2));   // 14 -> 7
  stage3 = register_module("stage3", ResidualBlock(64, 128, 2));  // 7 -> 4
  head = register_module("head", nn::Linear(kFeatureDim, 10));
}

torch::Tensor FmnistClassifierImpl::features(const torch::Tensor& x) {
  auto h = stem->forward(x);      // [N, 16, 28, 28]
  h = stage3(stage2(stage1(h)));  // [N, 128, 4, 4]
  return h.mean(/*dim=*/{2, 3});  // [N, 128]
}

torch::Tensor FmnistClassifierImpl::logits(const torch::Tensor& x) { return head(features(x)); }

namespace {

// Light augmentation, drawn from `rng` so the run is reproducible: each image
// is flipped left-right with probability 1/2 and shifted by up to 2 pixels in
// each direction (the border is filled with the background value -1).
torch::Tensor augment_batch(const torch::Tensor& x, std::mt19937_64& rng) {
  const auto n = x.size(0);
  auto padded = torch::constant_pad_nd(x, {2, 2, 2, 2}, -1.0);  // [N, 1, 32, 32]
  auto out = torch::empty_like(x);
  for (std::int64_t i = 0; i < n; ++i) {
    const auto r = rng();
    const std::int64_t dy = static_cast<std::int64_t>(r % 5), dx = static_cast<std::int64_t>((r / 5) % 5);
    const bool flip = ((r / 25) % 2) == 1;
    auto crop = padded[i].narrow(1, dy, 28).narrow(2, dx, 28);  // [1, 28, 28]
    out[i].copy_(flip ? crop.flip({2}) : crop);
  }
  return out;
}

// One-cycle: linear warmup over the first 10 % of steps, then cosine to 0.
double one_cycle_lr(double peak, std::int64_t step, std::int64_t total) {
  const auto warmup = std::max<std::int64_t>(1, total / 10);
  if (step < warmup) return peak * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const double progress =
      static_cast<double>(step - warmup) / static_cast<double>(std::max<std::int64_t>(1, total - warmup));
  return peak * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace

FmnistClassifier train_classifier(const ImageDataset& train, const ClassifierTrainOptions& opts) {
  if (opts.epochs < 1 || opts.batch_size < 1) throw UsageError("train_classifier: epochs and batch size must be >= 1");
  const auto n = train.images.size(0);
  if (n < opts.batch_size) throw UserError("train_classifier: fewer training images than one batch");
  torch::manual_seed(opts.seed);
  FmnistClassifier model;
  model->to(opts.device);
  model->train();
  torch::optim::AdamW optimizer(model->parameters(),
                                torch::optim::AdamWOptions(opts.lr).weight_decay(opts.weight_decay));
  std::mt19937_64 rng(opts.seed);
  const std::int64_t steps_per_epoch = n / opts.batch_size;  // drop the last partial batch
  const std::int64_t total = steps_per_epoch * opts.epochs;
  const auto images = train.images.contiguous();
  const auto labels = train.labels.contiguous();
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  double running = 0;
  std::int64_t step = 0;
  for (int epoch = 0; epoch < opts.epochs; ++epoch) {
    // Seeded Fisher-Yates (std::shuffle's algorithm differs between standard libraries).
    std::iota(order.begin(), order.end(), std::int64_t{0});
    for (std::size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[rng() % (i + 1)]);
    const auto perm = torch::from_blob(order.data(), {n}, torch::kLong).clone();
    for (std::int64_t b = 0; b < steps_per_epoch; ++b, ++step) {
      const auto idx = perm.narrow(0, b * opts.batch_size, opts.batch_size);
      auto x = images.index_select(0, idx);  // [B, 1, 28, 28]
      if (opts.augment) x = augment_batch(x, rng);
      const auto y = labels.index_select(0, idx).to(opts.device);
      x = x.to(opts.device);
      for (auto& group : optimizer.param_groups()) {
        static_cast<torch::optim::AdamWOptions&>(group.options()).lr(one_cycle_lr(opts.lr, step, total));
      }
      optimizer.zero_grad();
      auto loss = torch::nn::functional::cross_entropy(
          model->logits(x), y, torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(opts.label_smoothing));
      loss.backward();
      optimizer.step();
      const double l = loss.item<double>();
      running = step == 0 ? l : 0.98 * running + 0.02 * l;
      if (opts.on_progress && (step % opts.log_every == 0 || step + 1 == total))
        opts.on_progress(step + 1, total, running);
    }
  }
  model->eval();
  return model;
}

torch::Tensor batched_apply(const std::function<torch::Tensor(const torch::Tensor&)>& fn, const torch::Tensor& images,
                            torch::Device device, std::int64_t batch_size) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  const auto n = images.size(0);
  for (std::int64_t start = 0; start < n; start += batch_size) {
    const auto len = std::min(batch_size, n - start);
    parts.push_back(fn(images.narrow(0, start, len).to(device, torch::kFloat)).to(torch::kCPU));
  }
  if (parts.empty()) return torch::empty({0});
  return torch::cat(parts, 0);
}

double classifier_accuracy(FmnistClassifier& model, const ImageDataset& data, std::int64_t batch_size) {
  model->eval();
  const auto device = model->parameters().front().device();
  const auto logits =
      batched_apply([&](const torch::Tensor& x) { return model->logits(x); }, data.images, device, batch_size);
  const auto correct = logits.argmax(1).eq(data.labels.to(torch::kCPU)).sum().item<std::int64_t>();
  return static_cast<double>(correct) / static_cast<double>(data.images.size(0));
}

std::filesystem::path course_classifier_path() { return dm::io::reference_path("fmnist_classifier.dmt"); }
std::filesystem::path course_classifier_provenance_path() { return dm::io::reference_path("fmnist_classifier.json"); }

void save_classifier(FmnistClassifier& model, const std::filesystem::path& path, nlohmann::json meta) {
  if (meta.is_null()) meta = nlohmann::json::object();
  meta["kind"] = "fmnist_classifier";
  meta["version"] = kClassifierVersion;
  meta["feature_dim"] = kFeatureDim;
  dm::io::save_module(path, *model, meta);  // atomic; dm::UserError when it cannot be written
}

FmnistClassifier load_classifier(const std::filesystem::path& path, torch::Device device,
                                 const std::string& expect_sha256, nlohmann::json* meta) {
  if (!std::filesystem::exists(path))
    throw UserError("classifier file " + path.string() +
                    " does not exist: restore the course's with `git checkout -- reference/`, or train it with "
                    "`./course train-classifier`");
  const auto header = dm::io::read_tensor_header(path);  // dm::UserError for a file that is not a tensor file
  const auto version = header.meta.value("version", -1);
  if (header.meta.value("kind", std::string{}) != "fmnist_classifier" || version != kClassifierVersion)
    throw UserError(
        fmt::format("{} is not a version-{} course classifier (kind '{}', version {}): train it again "
                    "with `./course train-classifier`",
                    path.string(), kClassifierVersion, header.meta.value("kind", std::string{}), version));
  FmnistClassifier model;
  auto m = dm::io::load_module(path, *model, expect_sha256);  // checks the hash, names, shapes and dtypes
  if (meta) *meta = std::move(m);
  model->to(device);
  model->eval();
  return model;
}

}  // namespace dm::eval
