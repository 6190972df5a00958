// Exercise 02.5: one step of the forward Markov chain, q(x_t | x_{t-1}).
#include "02_forward_noising/forward.hpp"
#include "dm/todo.hpp"

namespace dm::ch02 {

// ANCHOR: q_step
torch::Tensor q_step(const Schedule& s, const torch::Tensor& x_prev, const torch::Tensor& t, const torch::Tensor& z) {
  // one draw of q(x_t | x_{t-1}) made from z; extract() shapes a [T] coefficient to [B, 1, ...]
  DM_TODO("02.5");
}
// ANCHOR_END: q_step

}  // namespace dm::ch02
