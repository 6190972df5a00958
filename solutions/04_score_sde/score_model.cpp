// The MLP denoiser and its training loop.
#include "04_score_sde/score_model.hpp"

#include <cmath>

#include <torch/optim/adam.h>

namespace dm::ch04 {

ScoreMlpImpl::ScoreMlpImpl(std::int64_t hidden, std::int64_t layers, std::int64_t freqs_)
    : freqs(freqs_),
      time_in(register_module("time_in", torch::nn::Linear(2 * freqs_, hidden))),
      x_in(register_module("x_in", torch::nn::Linear(2, hidden))),
      out(register_module("out", torch::nn::Linear(hidden, 2))),
      hidden_layers(register_module("hidden_layers", torch::nn::ModuleList())),
      time_proj(register_module("time_proj", torch::nn::ModuleList())) {
  for (std::int64_t l = 0; l < layers; ++l) {
    time_proj->push_back(torch::nn::Linear(hidden, hidden));
    if (l > 0) hidden_layers->push_back(torch::nn::Linear(hidden, hidden));
  }
}

// ANCHOR: score_mlp_forward
torch::Tensor ScoreMlpImpl::forward(const torch::Tensor& x, const torch::Tensor& t) {
  // sinusoidal embedding of 1000 t, frequencies 10000^(-k / freqs) as in the transformer
  const auto k = torch::arange(freqs, x.options());
  const auto angle = (1000 * t.reshape({-1})).unsqueeze(1) *
                     torch::exp(-std::log(10000.0) * k / double(freqs)).unsqueeze(0);      // [B, F]
  const auto e = torch::silu(time_in(torch::cat({angle.sin(), angle.cos()}, /*dim=*/1)));  // [B, hidden]
  auto h = torch::silu(x_in(x) + time_proj[0]->as<torch::nn::Linear>()->forward(e));       // [B, hidden]
  for (std::size_t l = 0; l < hidden_layers->size(); ++l)
    h = torch::silu(hidden_layers[l]->as<torch::nn::Linear>()->forward(h) +
                    time_proj[l + 1]->as<torch::nn::Linear>()->forward(e));
  return out(h);  // [B, 2]
}
// ANCHOR_END: score_mlp_forward

std::int64_t parameter_count(torch::nn::Module& m) {
  std::int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

// ANCHOR: train_denoiser
std::vector<double> train_denoiser(ScoreMlp& model, const GaussianMixture2D& gm, const VpSde& sde,
                                   const TrainOptions& opt, torch::Generator gen,
                                   const std::function<void(std::int64_t, double)>& on_step) {
  model->train();
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(opt.lr));
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  std::vector<double> losses;
  losses.reserve(static_cast<std::size_t>(opt.steps));
  for (std::int64_t step = 0; step < opt.steps; ++step) {
    // linear decay from lr to 0.05 lr
    const double lr = opt.lr * (1 - 0.95 * double(step) / double(opt.steps));
    for (auto& group : adam.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
    const auto x0 = gm.sample(opt.batch, gen);                                        // [B, 2]
    const auto t = opt.t_min + (1 - opt.t_min) * torch::rand({opt.batch}, gen, f32);  // [B]
    const auto eps = torch::randn({opt.batch, 2}, gen, f32);                          // [B, 2]
    const auto ab = sde.alpha_bar(t.to(torch::kFloat64)).unsqueeze(1);                // [B, 1]
    const auto xt = (ab.sqrt() * x0 + (1 - ab).sqrt() * eps).to(torch::kFloat32);     // q(x_t | x_0)
    const auto loss = (model->forward(xt, t) - eps).square().sum(/*dim=*/1).mean();   // E ||eps_theta - eps||^2
    adam.zero_grad();
    loss.backward();
    adam.step();
    losses.push_back(loss.item<double>());
    if (on_step) on_step(step, losses.back());
  }
  model->eval();
  return losses;
}
// ANCHOR_END: train_denoiser

ScoreFn learned_score(ScoreMlp model, const VpSde& sde) {
  return [model, sde](const torch::Tensor& x, double t) mutable {
    torch::NoGradGuard no_grad;
    // one t for the whole batch: the time embedding is computed once and broadcast
    const auto tt = torch::full({1}, t, torch::TensorOptions().dtype(torch::kFloat32).device(x.device()));
    const auto eps = model->forward(x.to(torch::kFloat32), tt).to(x.scalar_type());
    return -eps / sde.sigma(t);
  };
}

}  // namespace dm::ch04
