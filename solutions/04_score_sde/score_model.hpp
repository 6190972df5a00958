// A small MLP denoiser for 2-D data: eps_theta(x_t, t), trained with denoising score matching
// (L_simple, eps-prediction) on the VP-SDE of sde.hpp. Its score is -eps_theta / sigma(t).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <torch/nn.h>

#include "04_score_sde/sde.hpp"
#include "dm/data/toy2d.hpp"

namespace dm::ch04 {

// ANCHOR: score_mlp
// x [B, 2], t [B] in [0, 1] (or [1]: one time for the whole batch)  ->  eps_theta [B, 2].
//   e   = SiLU(Linear(sinusoidal(1000 t)))            time embedding [B, hidden]
//   h_0 = SiLU(Linear(x) + Linear(e))
//   h_l = SiLU(Linear(h_{l-1}) + Linear(e))            l = 1 .. layers - 1
//   out = Linear(h_last)
struct ScoreMlpImpl : torch::nn::Module {
  explicit ScoreMlpImpl(std::int64_t hidden = 128, std::int64_t layers = 3, std::int64_t freqs = 16);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t);

  std::int64_t freqs;
  torch::nn::Linear time_in{nullptr}, x_in{nullptr}, out{nullptr};
  torch::nn::ModuleList hidden_layers, time_proj;  // Linear(hidden, hidden) each
};
TORCH_MODULE(ScoreMlp);
// ANCHOR_END: score_mlp

std::int64_t parameter_count(torch::nn::Module& m);

struct TrainOptions {
  std::int64_t steps = 4000;  // Adam steps
  std::int64_t batch = 512;   // fresh mixture samples per step
  double lr = 2e-3;           // peak learning rate; linear decay to 5% over the run
  double t_min = 1e-3;        // t ~ U[t_min, 1]
};

// Trains `model` on fresh samples of `gm` every step (the data set is infinite) with
//   loss = mean || eps_theta(sqrt(ab) x0 + sqrt(1 - ab) eps, t) - eps ||^2.
// `on_step(step, loss)` is called after every step (may be empty). Returns the loss of every step.
// Data, t and eps come from `gen`; with the same seed and thread count the run is repeatable.
std::vector<double> train_denoiser(ScoreMlp& model, const GaussianMixture2D& gm, const VpSde& sde,
                                   const TrainOptions& opt, torch::Generator gen,
                                   const std::function<void(std::int64_t, double)>& on_step = {});

// The score of the trained model: -eps_theta(x, t) / sigma(t) (no gradients, eval mode).
ScoreFn learned_score(ScoreMlp model, const VpSde& sde);

}  // namespace dm::ch04
