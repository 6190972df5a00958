// Exercise 03.4: the exponential moving average of the weights, with warmup.
#include <algorithm>

#include "03_ddpm/ddpm.hpp"
#include "dm/todo.hpp"

namespace dm::ch03 {

// ANCHOR: ema
double ema_decay(std::int64_t step, double max_decay) {
  // BEGIN SOLUTION 03.4
  return std::min(max_decay, (1.0 + double(step)) / (10.0 + double(step)));
  // BEGIN STUB
  // // small at first (forget the random initialisation fast), then max_decay
  // DM_TODO("03.4");
  // END STUB
  // END SOLUTION
}

void ema_update(const std::vector<torch::Tensor>& ema, const std::vector<torch::Tensor>& params, double decay) {
  TORCH_CHECK(ema.size() == params.size(), "ema_update: ", ema.size(), " EMA tensors but ", params.size(),
              " parameters");
  torch::NoGradGuard no_grad;  // the average is not part of any graph
  // BEGIN SOLUTION 03.4
  for (std::size_t k = 0; k < ema.size(); ++k) ema[k].mul_(decay).add_(params[k].detach(), 1.0 - decay);
  // BEGIN STUB
  // DM_TODO("03.4");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: ema

}  // namespace dm::ch03
