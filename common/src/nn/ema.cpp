// EMA of weights with warmup: see dm/nn/ema.hpp.
#include "dm/nn/ema.hpp"

#include <algorithm>

namespace dm::nn {

double ema_decay(std::int64_t step, double max_decay) {
  return std::min(max_decay, (1.0 + double(step)) / (10.0 + double(step)));
}

void ema_update(torch::nn::Module& ema, const torch::nn::Module& model, double decay) {
  torch::NoGradGuard ng;
  auto src = model.named_parameters();
  for (auto& kv : ema.named_parameters()) kv.value().mul_(decay).add_(src[kv.key()].detach(), 1.0 - decay);
  auto srcb = model.named_buffers();
  for (auto& kv : ema.named_buffers()) kv.value().copy_(srcb[kv.key()]);
}

}  // namespace dm::nn
