// Exercise 03.2: the training loss L_simple (Algorithm 1 of Ho et al. 2020).
#include "03_ddpm/ddpm.hpp"
#include "dm/todo.hpp"

namespace dm::ch03 {

// ANCHOR: l_simple
torch::Tensor l_simple(const Schedule& s, const EpsModel& eps_theta, const torch::Tensor& x0, const torch::Tensor& t,
                       const torch::Tensor& eps) {
  // BEGIN SOLUTION 03.2
  auto ab = s.alpha_bar.to(x0.device()).index_select(0, t.to(x0.device()));  // [B] float64
  auto shape = std::vector<std::int64_t>(static_cast<std::size_t>(x0.dim()), 1);
  shape[0] = x0.size(0);
  auto signal = ab.sqrt().to(x0.scalar_type()).reshape(shape);       // [B, 1, 1, 1]
  auto noise = (1 - ab).sqrt().to(x0.scalar_type()).reshape(shape);  // [B, 1, 1, 1]
  auto x_t = signal * x0 + noise * eps;                              // q_sample
  return (eps - eps_theta(x_t, t)).pow(2).mean();
  // BEGIN STUB
  // // x_t as chapter 02's q_sample makes it (written out here, so 03.2 does not depend on your 02.3),
  // // then the mean squared error between eps and eps_theta(x_t, t)
  // DM_TODO("03.2");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: l_simple

}  // namespace dm::ch03
