// Fashion-MNIST (or MNIST: same files) as tensors.
//   dir: a folder with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz];
//        empty means Debian's dataset-fashion-mnist, /usr/share/datasets/fashion-mnist.
// A missing folder or file is a dm::UserError that names the Debian package
// and the --data-dir flag.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>

#include <torch/types.h>

namespace dm {

inline const char* kFashionMnistDefaultDir = "/usr/share/datasets/fashion-mnist";
inline const std::array<const char*, 10> kFashionMnistClasses = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

enum class Split { Train, Test };

struct ImageDataset {
  torch::Tensor images;  // [N, 1, 28, 28] float in [-1, 1]
  torch::Tensor labels;  // [N] int64
};

// The first `limit` examples of the split (limit <= 0: all of them).
ImageDataset load_fashion_mnist(const std::filesystem::path& dir, Split split, std::int64_t limit = 0);

}  // namespace dm
