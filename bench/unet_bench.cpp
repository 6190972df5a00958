// U-Net throughput in C++ (LibTorch): one training step and DDIM-50 sampling, in images/s.
// bench/unet_bench.py measures the same network and loops in Python PyTorch; `./course bench`
// runs both on the same machine, in the same run, and writes bench/RESULTS.md.
//
//   build/default/bin/bench_unet --threads 2 --batch 64 --repeats 3
//
// Protocol (identical in both): the chapter 03 quick U-Net (dm::nn::UNetConfig defaults),
// float32 on the CPU, `threads` intra-op threads; a training step is forward + MSE + backward +
// gradient clipping + AdamW; DDIM-50 is 50 no-grad U-Net evaluations with the eta = 0 update on the
// linear schedule (T = 1000, "leading" spacing). Each figure is the median of `repeats` timed runs
// after a warm-up. With --profile FILE it then records `train-steps` more training steps with
// LibTorch's autograd profiler (a chrome trace; `./course bench --profile` compares it with
// PyTorch's trace of the same steps, tools/coursekit/profile.py).
#include <ATen/Parallel.h>
#include <fmt/core.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <vector>

#include "03_ddpm/ddpm.hpp"
#include "dm/nn/unet.hpp"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, batch = 64, repeats = 3, train_steps = 10, ddim_steps = 50;
  CLI::App app{"U-Net training-step and DDIM-50 throughput (C++ side of bench/unet_bench.py)"};
  app.add_option("--threads", threads, "intra-op threads")->capture_default_str();
  app.add_option("--batch", batch, "images per batch")->capture_default_str();
  app.add_option("--repeats", repeats, "timed runs; the median is reported")->capture_default_str();
  app.add_option("--train-steps", train_steps, "training steps per timed run")->capture_default_str();
  std::string profile;
  app.add_option("--profile", profile, "afterwards, write a chrome trace of --train-steps training steps here");
  CLI11_PARSE(app, argc, argv);

  at::set_num_threads(threads);
  torch::manual_seed(0);
  dm::nn::UNetConfig cfg;
  dm::nn::UNet net(cfg, dm::ch03::sinusoidal_embedding_fn());
  const std::int64_t T = 1000;
  auto beta = torch::linspace(1e-4, 0.02, T, torch::kFloat64);
  auto alpha_bar = torch::cumprod(1 - beta, 0).to(torch::kFloat32);
  torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(2e-4).weight_decay(0.0));
  auto x0 = torch::rand({batch, 1, 28, 28}) * 2 - 1;

  // The step's phases, timed on the CPU (synchronous): forward (with the noising and the loss),
  // backward (with zero_grad), clipping, AdamW. Summed over the timed runs.
  std::vector<double> phase(4, 0.0);
  auto lap = [](std::chrono::steady_clock::time_point& t0) {
    const double s = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    return s;
  };
  auto train_step = [&] {
    auto t0 = std::chrono::steady_clock::now();
    auto t = torch::randint(0, T, {batch}, torch::kLong);
    auto eps = torch::randn_like(x0);
    auto ab = alpha_bar.index_select(0, t).view({-1, 1, 1, 1});
    auto x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * eps;
    auto loss = torch::mse_loss(net->forward(x_t, t), eps);
    phase[0] += lap(t0);
    opt.zero_grad();
    loss.backward();
    phase[1] += lap(t0);
    torch::nn::utils::clip_grad_norm_(net->parameters(), 1.0);
    phase[2] += lap(t0);
    opt.step();
    phase[3] += lap(t0);
  };
  auto ddim = [&] {
    torch::NoGradGuard ng;
    auto x = torch::randn({batch, 1, 28, 28});
    const std::int64_t stride = T / ddim_steps;
    for (std::int64_t i = ddim_steps - 1; i >= 0; --i) {
      const std::int64_t t = i * stride + 1, t_prev = t - stride;  // leading, offset 1
      const double ab = alpha_bar[t].item<double>(), ab_prev = t_prev >= 0 ? alpha_bar[t_prev].item<double>() : 1.0;
      auto eps = net->forward(x, torch::full({batch}, t, torch::kLong));
      auto x0_hat = (x - std::sqrt(1 - ab) * eps) / std::sqrt(ab);
      x = std::sqrt(ab_prev) * x0_hat + std::sqrt(1 - ab_prev) * eps;
    }
    return x;
  };

  net->train();
  train_step();  // warm-up
  std::vector<double> train_ips, ddim_ips;
  std::fill(phase.begin(), phase.end(), 0.0);
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    for (int s = 0; s < train_steps; ++s) train_step();
    train_ips.push_back(batch * train_steps / seconds_since(t0));
  }
  const double timed_steps = double(repeats) * train_steps;
  net->eval();
  ddim();  // warm-up
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    ddim();
    ddim_ips.push_back(batch / seconds_since(t0));
  }
  if (!profile.empty()) {
    net->train();
    const auto t0 = std::chrono::steady_clock::now();
    {
      torch::autograd::profiler::RecordProfile guard(profile);
      for (int s = 0; s < train_steps; ++s) train_step();
    }
    fmt::print(stderr, "profiled {} training steps in {:.2f} s -> {}\n", train_steps, seconds_since(t0), profile);
  }
  fmt::print(
      "{{\"impl\": \"C++ LibTorch {}\", \"params\": {}, \"threads\": {}, \"intra_op_threads\": {}, "
      "\"inter_op_threads\": {}, \"batch\": {}, ",
      TORCH_VERSION, net->num_parameters(), threads, at::get_num_threads(), at::get_num_interop_threads(), batch);
  fmt::print("\"phase_ms\": {{\"forward\": {:.1f}, \"backward\": {:.1f}, \"clip\": {:.1f}, \"adamw\": {:.1f}}}, ",
             1e3 * phase[0] / timed_steps, 1e3 * phase[1] / timed_steps, 1e3 * phase[2] / timed_steps,
             1e3 * phase[3] / timed_steps);
  fmt::print("\"train_images_per_s\": {:.2f}, \"ddim50_images_per_s\": {:.2f}}}\n", median(train_ips),
             median(ddim_ips));
  return 0;
}
