#include "01_ito_sde/vp_step.hpp"

#include <cmath>

#include "dm/todo.hpp"

namespace dm::ch01 {

// ANCHOR: exact_step
StepCoefficients exact_step_coefficients(double beta) {
  // {signal, noise}: the VP marginal over one step of integrated rate beta
  DM_TODO("01.4");
}
// ANCHOR_END: exact_step

// ANCHOR: ddpm_step
StepCoefficients ddpm_step_coefficients(double beta) {
  // {signal, noise} of Ho et al.'s forward step
  DM_TODO("01.4");
}
// ANCHOR_END: ddpm_step

}  // namespace dm::ch01
