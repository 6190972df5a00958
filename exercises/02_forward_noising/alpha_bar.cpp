// Exercise 02.2: alpha, alpha_bar and SNR(t).
#include "02_forward_noising/schedule.hpp"
#include "dm/todo.hpp"

namespace dm::ch02 {

// ANCHOR: make_schedule
Schedule make_schedule(const torch::Tensor& beta) {
  // [T] float64 each; alpha_bar[t] includes step t itself (index t is the paper's step t + 1)
  DM_TODO("02.2");
}
// ANCHOR_END: make_schedule

// ANCHOR: snr
torch::Tensor snr(const torch::Tensor& alpha_bar) {
  // a ratio of variances: the signal's over the noise's
  DM_TODO("02.2");
}
// ANCHOR_END: snr

Schedule named_schedule(const std::string& name, std::int64_t T) { return make_schedule(beta_schedule(name, T)); }

}  // namespace dm::ch02
