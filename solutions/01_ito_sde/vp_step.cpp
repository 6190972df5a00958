#include "01_ito_sde/vp_step.hpp"

#include <cmath>

#include "dm/todo.hpp"

namespace dm::ch01 {

// ANCHOR: exact_step
StepCoefficients exact_step_coefficients(double beta) {
  // BEGIN SOLUTION 01.4
  // mean x e^{-beta/2}; variance 1 - e^{-beta} (a unit-variance x stays at unit variance)
  return {std::exp(-0.5 * beta), std::sqrt(-std::expm1(-beta))};  // expm1: exact for tiny beta
  // BEGIN STUB
  // // {signal, noise}: the VP marginal over one step of integrated rate beta
  // DM_TODO("01.4");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: exact_step

// ANCHOR: ddpm_step
StepCoefficients ddpm_step_coefficients(double beta) {
  // BEGIN SOLUTION 01.4
  return {std::sqrt(1.0 - beta), std::sqrt(beta)};
  // BEGIN STUB
  // // {signal, noise} of Ho et al.'s forward step
  // DM_TODO("01.4");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: ddpm_step

}  // namespace dm::ch01
