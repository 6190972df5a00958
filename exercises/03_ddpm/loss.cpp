// Exercise 03.2: the training loss L_simple (Algorithm 1 of Ho et al. 2020).
#include "03_ddpm/ddpm.hpp"
#include "dm/todo.hpp"

namespace dm::ch03 {

// ANCHOR: l_simple
torch::Tensor l_simple(const Schedule& s, const EpsModel& eps_theta, const torch::Tensor& x0, const torch::Tensor& t,
                       const torch::Tensor& eps) {
  // x_t as chapter 02's q_sample makes it (written out here, so 03.2 does not depend on your 02.3),
  // then the mean squared error between eps and eps_theta(x_t, t)
  DM_TODO("03.2");
}
// ANCHOR_END: l_simple

}  // namespace dm::ch03
