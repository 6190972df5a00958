// What a denoiser predicts: four equivalent parameterisations of the same network output.
//
// With x_t = a x_0 + s eps,  a = sqrt(alpha_bar),  s = sqrt(1 - alpha_bar)  (a^2 + s^2 = 1):
//   eps     the noise that was added                              (DDPM)
//   x0      the clean sample                                      (predict-x0, Tweedie's denoiser)
//   v       a eps - s x0, the velocity of (x0, eps) on the circle  (Salimans & Ho 2022)
//   score   grad log p_t(x_t), the score of the noised marginal    (score matching, Song et al.)
// Given x_t and alpha_bar, each one determines the others (lesson 04, "2. The score of the noised
// marginal, and $\varepsilon_\theta = -\sigma_t \nabla \log p_t$", relates the score to eps).
// Everything here is elementwise.
#pragma once

#include <string>

#include <torch/types.h>

namespace dm::ch04 {

enum class Prediction { Eps, X0, V, Score };
inline const char* name(Prediction p) {
  switch (p) {
    case Prediction::Eps:
      return "eps";
    case Prediction::X0:
      return "x0";
    case Prediction::V:
      return "v";
    case Prediction::Score:
      return "score";
  }
  return "?";
}

// ---- 04.1 conversions ------------------------------------------------------------------------------
//   kind        what `pred` is (or what to return)
//   pred, eps   [n, ...] network outputs
//   xt          [n, ...] the noisy input the prediction was made for
//   alpha_bar   a tensor broadcastable against xt: [n, 1] (one per example), or 0-dim; float64
//               is best, the result has xt's dtype when alpha_bar is a 0-dim or float32 tensor
// The noise eps implied by a prediction `pred` of kind `kind` made for xt (eps: pred itself).
//   returns     shape of xt, in xt's dtype
torch::Tensor to_eps(Prediction kind, const torch::Tensor& pred, const torch::Tensor& xt,
                     const torch::Tensor& alpha_bar);
// The prediction of kind `kind` implied by the noise eps (the inverse of to_eps, kind by kind).
//   returns     shape of xt, in xt's dtype
torch::Tensor from_eps(Prediction kind, const torch::Tensor& eps, const torch::Tensor& xt,
                       const torch::Tensor& alpha_bar);

// Any kind to any kind, through eps.
inline torch::Tensor convert(Prediction from, Prediction to, const torch::Tensor& pred, const torch::Tensor& xt,
                             const torch::Tensor& alpha_bar) {
  return from_eps(to, to_eps(from, pred, xt, alpha_bar), xt, alpha_bar);
}

// ---- 04.6 min-SNR-gamma loss weights (Hang et al. 2023) --------------------------------------------
// Training on ||pred - target||^2 in the space of `kind` weights each t differently: at a fixed x_t, the
// same mistake has a different size in each parameterisation, a multiple of ||d x0||^2 that depends
// on snr alone (lesson 04, "7. Min-SNR-$\gamma$ weights"). Min-SNR-gamma makes every kind's weighted
// loss an x0-loss whose weight is clipped at gamma: the weight w returned for `kind` satisfies
//   w ||d kind||^2 = min(snr, gamma) ||d x0||^2   for every mistake d x0 at a fixed x_t.
//   snr      [n] (any shape) alpha_bar / (1 - alpha_bar), > 0
//   gamma    > 0 (the paper uses 5)
//   returns  the weights, shape and dtype of snr
torch::Tensor min_snr_weight(const torch::Tensor& snr, double gamma, Prediction kind);

}  // namespace dm::ch04
