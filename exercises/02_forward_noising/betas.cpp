// Exercise 02.1: the linear, cosine and sigmoid beta schedules.
#include <cmath>
#include <stdexcept>

#include "02_forward_noising/schedule.hpp"
#include "dm/todo.hpp"

namespace dm::ch02 {

namespace {
[[maybe_unused]] const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);
}  // namespace

// ANCHOR: linear
torch::Tensor linear_beta_schedule(std::int64_t T, double beta_start, double beta_end) {
  // [T] float64, both end points included
  DM_TODO("02.1");
}
// ANCHOR_END: linear

// ANCHOR: cosine
torch::Tensor cosine_beta_schedule(std::int64_t T, double s, double max_beta) {
  // [T] float64, defined through alpha_bar (one value at each of the T + 1 step boundaries), <= max_beta
  DM_TODO("02.1");
}
// ANCHOR_END: cosine

// ANCHOR: sigmoid
torch::Tensor sigmoid_beta_schedule(std::int64_t T, double beta_start, double beta_end) {
  // [T] float64, increasing, between beta_start and beta_end (lesson 02 fixes the sigmoid's range)
  DM_TODO("02.1");
}
// ANCHOR_END: sigmoid

torch::Tensor beta_schedule(const std::string& name, std::int64_t T) {
  if (name == "linear") return linear_beta_schedule(T);
  if (name == "cosine") return cosine_beta_schedule(T);
  if (name == "sigmoid") return sigmoid_beta_schedule(T);
  throw std::invalid_argument("unknown schedule '" + name + "' (expected linear, cosine or sigmoid)");
}

}  // namespace dm::ch02
