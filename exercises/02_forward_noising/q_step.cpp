// Exercise 02.5: one step of the forward Markov chain, q(x_t | x_{t-1}).
#include "02_forward_noising/forward.hpp"
#include "dm/todo.hpp"

namespace dm::ch02 {

// ANCHOR: q_step
torch::Tensor q_step(const Schedule& s, const torch::Tensor& x_prev, const torch::Tensor& t, const torch::Tensor& z) {
  // keep sqrt(1 - beta_t) of x_prev, add noise of variance beta_t
  DM_TODO("02.5");
}
// ANCHOR_END: q_step

}  // namespace dm::ch02
