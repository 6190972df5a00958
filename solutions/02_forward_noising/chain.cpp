// Exercise 02.6: the forward Markov chain run step by step, from its parts.
#include "02_forward_noising/chain.hpp"
#include "dm/todo.hpp"

namespace dm::ch02 {

// ANCHOR: q_chain
torch::Tensor q_chain(const ForwardStep& step, const torch::Tensor& x0, std::int64_t t_end, const StepNoise& noise,
                      const ChainCallback& on_step) {
  TORCH_CHECK(t_end >= 0, "q_chain: t_end must be >= 0, got ", t_end);
  TORCH_CHECK(x0.dim() >= 1, "q_chain: x0 must be a batch [B, ...], got ", x0.sizes());
  // BEGIN SOLUTION 02.6
  auto x = x0;
  for (std::int64_t t = 0; t <= t_end; ++t) {
    auto tt = torch::full({x.size(0)}, t, torch::TensorOptions().dtype(torch::kLong).device(x.device()));  // [B]
    x = step(x, tt, noise(x, t));
    if (on_step) on_step(t, x);
  }
  return x;
  // END SOLUTION
}
// ANCHOR_END: q_chain

}  // namespace dm::ch02
