// Exercise 04.6: min-SNR-gamma loss weights (Hang et al. 2023).
#include "04_score_sde/param.hpp"

#include <stdexcept>

#include "dm/todo.hpp"

namespace dm::ch04 {

// ANCHOR: min_snr_weight
torch::Tensor min_snr_weight(const torch::Tensor& snr, double gamma, Prediction kind) {
  // min(snr, gamma) divided by how much the kind's squared error magnifies ||d x0||^2
  DM_TODO("04.6");
  throw std::invalid_argument("min_snr_weight: unknown prediction kind");
}
// ANCHOR_END: min_snr_weight

}  // namespace dm::ch04
