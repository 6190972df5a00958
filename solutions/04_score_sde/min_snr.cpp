// Exercise 04.6: min-SNR-gamma loss weights (Hang et al. 2023).
#include "04_score_sde/param.hpp"

#include <stdexcept>

#include "dm/todo.hpp"

namespace dm::ch04 {

// ANCHOR: min_snr_weight
torch::Tensor min_snr_weight(const torch::Tensor& snr, double gamma, Prediction kind) {
  // BEGIN SOLUTION 04.6
  const auto clipped = snr.clamp_max(gamma);  // min(snr, gamma)
  switch (kind) {
    case Prediction::X0:
      return clipped;
    case Prediction::Eps:
      return clipped / snr;  // ||d eps||^2 = snr ||d x0||^2
    case Prediction::V:
      return clipped / (snr + 1);  // ||d v||^2 = (snr + 1) ||d x0||^2
    case Prediction::Score:
      return clipped / (snr * (snr + 1));  // ||d score||^2 = snr (snr + 1) ||d x0||^2
  }
  // BEGIN STUB
  // // min(snr, gamma) divided by how much the kind's squared error magnifies ||d x0||^2
  // DM_TODO("04.6");
  // END STUB
  // END SOLUTION
  throw std::invalid_argument("min_snr_weight: unknown prediction kind");
}
// ANCHOR_END: min_snr_weight

}  // namespace dm::ch04
