// Choosing the torch device once, from --device auto|cpu|cuda.
#pragma once

#include <torch/types.h>
#include <string>

namespace dm {

// "auto": CUDA when this LibTorch was built with it and a GPU is visible, else
// the CPU. "cuda" without a GPU is a dm::UsageError naming what is missing.
torch::Device pick_device(const std::string& name);

}  // namespace dm
