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
  // BEGIN SOLUTION 02.1
  return torch::linspace(beta_start, beta_end, T, kF64);  // [T]
  // BEGIN STUB
  // // [T] float64, both end points included
  // DM_TODO("02.1");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: linear

// ANCHOR: cosine
torch::Tensor cosine_beta_schedule(std::int64_t T, double s, double max_beta) {
  // BEGIN SOLUTION 02.1
  const double half_pi = std::acos(0.0);
  // u = t / T for t = 0..T: the T + 1 end points of the T steps
  auto u = torch::arange(T + 1, kF64) / static_cast<double>(T);      // [T+1]
  auto f = torch::cos((u + s) / (1 + s) * half_pi).pow(2);           // [T+1]
  auto alpha_bar = f / f[0];                                         // [T+1], alpha_bar(0) = 1
  auto beta = 1 - alpha_bar.slice(0, 1) / alpha_bar.slice(0, 0, T);  // [T]
  return beta.clamp_max(max_beta);
  // BEGIN STUB
  // // [T] float64, defined through alpha_bar (one value at each of the T + 1 step boundaries), <= max_beta
  // DM_TODO("02.1");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: cosine

// ANCHOR: sigmoid
torch::Tensor sigmoid_beta_schedule(std::int64_t T, double beta_start, double beta_end) {
  // BEGIN SOLUTION 02.1
  auto x = torch::linspace(-6.0, 6.0, T, kF64);  // [T]
  return torch::sigmoid(x) * (beta_end - beta_start) + beta_start;
  // BEGIN STUB
  // // [T] float64, increasing, between beta_start and beta_end (lesson 02 fixes the sigmoid's range)
  // DM_TODO("02.1");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: sigmoid

torch::Tensor beta_schedule(const std::string& name, std::int64_t T) {
  if (name == "linear") return linear_beta_schedule(T);
  if (name == "cosine") return cosine_beta_schedule(T);
  if (name == "sigmoid") return sigmoid_beta_schedule(T);
  throw std::invalid_argument("unknown schedule '" + name + "' (expected linear, cosine or sigmoid)");
}

}  // namespace dm::ch02
