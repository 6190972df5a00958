#include "dm/device.hpp"

#include <fmt/core.h>
#include <torch/cuda.h>

#include "dm/errors.hpp"

namespace dm {

torch::Device pick_device(const std::string& name) {
  const bool cuda = torch::cuda::is_available();
  torch::Device device = torch::kCPU;
  if (name == "cuda") {
    if (!cuda)
      throw UsageError(
          "--device cuda: this LibTorch has no CUDA or no GPU is visible (configure with the GPU preset, "
          "see README)");
    device = torch::Device(torch::kCUDA, 0);
  } else if (name == "auto") {
    if (cuda) device = torch::Device(torch::kCUDA, 0);
  } else if (name != "cpu") {
    throw UsageError("--device must be auto, cpu or cuda, not '" + name + "'");
  }
  fmt::print("device: {}\n", device.str());
  return device;
}

}  // namespace dm
