// Exercise 03.4: the exponential moving average of the weights, with warmup.
#include <algorithm>

#include "03_ddpm/ddpm.hpp"
#include "dm/todo.hpp"

namespace dm::ch03 {

// ANCHOR: ema
double ema_decay(std::int64_t step, double max_decay) {
  // small at first (forget the random initialisation fast), then max_decay
  DM_TODO("03.4");
}

void ema_update(const std::vector<torch::Tensor>& ema, const std::vector<torch::Tensor>& params, double decay) {
  TORCH_CHECK(ema.size() == params.size(), "ema_update: ", ema.size(), " EMA tensors but ", params.size(),
              " parameters");
  torch::NoGradGuard no_grad;  // the average is not part of any graph
  DM_TODO("03.4");
}
// ANCHOR_END: ema

}  // namespace dm::ch03
