// Fashion-MNIST from its four IDX files, as tensors the models use directly:
// images float [N, 1, 28, 28] in [-1, 1] (pixel / 127.5 - 1), labels int64 [N].
#include "dm/data/fashion_mnist.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <system_error>

#include "dm/data/idx.hpp"
#include "dm/errors.hpp"

namespace dm {

namespace {

std::string how_to_fix() {
  return "install Debian's dataset-fashion-mnist (sudo apt-get install dataset-fashion-mnist) or point --data-dir "
         "at a folder with train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
         "t10k-labels-idx1-ubyte.gz (gzipped or not)";
}

// <dir>/<name>.gz, else <dir>/<name>; a dm::UserError saying how to get it.
std::filesystem::path find_file(const std::filesystem::path& dir, const std::string& name) {
  std::error_code ec;
  for (const auto& candidate : {dir / (name + ".gz"), dir / name})
    if (std::filesystem::is_regular_file(candidate, ec)) return candidate;
  throw UserError(fmt::format("Fashion-MNIST file {}[.gz] not found in {}: {}", name, dir.string(), how_to_fix()));
}

}  // namespace

ImageDataset load_fashion_mnist(const std::filesystem::path& dir_arg, Split split, std::int64_t limit) {
  const std::filesystem::path dir = dir_arg.empty() ? std::filesystem::path(kFashionMnistDefaultDir) : dir_arg;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw UserError(fmt::format("Fashion-MNIST not found in {}: {}", dir.string(), how_to_fix()));
  const std::string prefix = split == Split::Train ? "train" : "t10k";
  const auto image_file = find_file(dir, prefix + "-images-idx3-ubyte");
  const auto label_file = find_file(dir, prefix + "-labels-idx1-ubyte");

  IdxImages idx = read_idx_images(image_file);
  std::vector<std::uint8_t> labels = read_idx_labels(label_file);
  if (static_cast<std::int64_t>(labels.size()) != idx.count)
    throw UserError(fmt::format("Fashion-MNIST in {}: {} has {} images but {} has {} labels", dir.string(),
                                image_file.filename().string(), idx.count, label_file.filename().string(),
                                labels.size()));
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] >= kFashionMnistClasses.size())
      throw UserError(fmt::format("{}: label {} at index {} is outside 0..9", label_file.string(), labels[i], i));

  const std::int64_t n = limit > 0 ? std::min(limit, idx.count) : idx.count;
  ImageDataset ds;
  // from_blob views our vectors; .to() copies, so the tensors own their memory.
  ds.images = torch::from_blob(idx.pixels.data(), {n, 1, idx.rows, idx.cols}, torch::kUInt8)
                  .to(torch::kFloat)
                  .div_(127.5)
                  .sub_(1.0);  // {0..255} -> [-1, 1]
  ds.labels = torch::from_blob(labels.data(), {n}, torch::kUInt8).to(torch::kLong);
  return ds;
}

}  // namespace dm
