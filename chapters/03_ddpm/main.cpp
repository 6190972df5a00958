// Chapter 03: DDPM (Ho et al. 2020) on Fashion-MNIST.
//
// Trains the course U-Net (dm/nn/unet.hpp) with L_simple (exercise 03.2) and uniform t, AdamW with a
// linear learning-rate warmup, gradient clipping and an EMA of the weights with warmup (03.4); samples
// with the ancestral sampler (Algorithm 2, exercise 03.3) from the EMA weights; evaluates the samples
// with the course's own classifier (FID, KID, precision/recall, class histogram). Writes
//   runs/03_ddpm/loss.png        the training loss (per step, and smoothed)
//   runs/03_ddpm/samples.png     a grid of generated images
//   runs/03_ddpm/denoise.mp4     x_t (left) and x0_hat (right) over the reverse process
//   runs/03_ddpm/training.mp4    samples from the same fixed noise every --video-every steps
//   runs/03_ddpm/ckpt.pt         the checkpoint (model, EMA, optimizer, step, RNG): --resume, chapter 05
//   runs/03_ddpm/metrics.json    hyperparameters, wall times, the evaluation report
//
// Ctrl-C saves a checkpoint at the next step boundary and exits with 130; --resume continues it. On
// the CPU with --deterministic, an interrupted and resumed run ends with the same weights as an
// uninterrupted one.
//
//   build/default/bin/solutions/03_ddpm --quick                      (CPU, minutes)
//   build/default/bin/solutions/03_ddpm --device cuda                (the full recipe, a GPU)
//   build/default/bin/solutions/03_ddpm --quick --resume             (after Ctrl-C)
#include <fmt/core.h>
#include <torch/torch.h>
#include <CLI/CLI.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <ATen/CPUGeneratorImpl.h>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "02_forward_noising/schedule.hpp"
#include "03_ddpm/ddpm.hpp"
#include "dm/cli.hpp"
#include "dm/data/fashion_mnist.hpp"
#include "dm/device.hpp"
#include "dm/errors.hpp"
#include "dm/eval/evaluator.hpp"
#include "dm/image.hpp"
#include "dm/nn/checkpoint.hpp"
#include "dm/nn/oom.hpp"
#include "dm/nn/unet.hpp"
#include "dm/plot.hpp"
#include "dm/progress.hpp"
#include "dm/run_dir.hpp"
#include "dm/runtime.hpp"
#include "dm/video.hpp"

namespace {

using dm::ch02::Schedule;
using Clock = std::chrono::steady_clock;

// ANCHOR: hyperparameters
// ---- hyperparameters (full recipe; --quick values in brackets; each overridable by its flag) ------
struct Config {
  // the model (dm::nn::UNetConfig)
  std::int64_t width = 64;                      // --width: channels of the first level [16]
  std::vector<std::int64_t> mults = {1, 2, 2};  // --mults: width multipliers per level, 28 -> 14 -> 7
  std::int64_t res_blocks = 2;                  // --res-blocks: ResBlocks per level [1]
  std::vector<std::int64_t> attn = {7};         // --attn: resolutions with self-attention
  double dropout = 0.1;                         // --dropout: inside ResBlocks (DDPM: 0.1) [0]
  // the diffusion
  std::string schedule = "linear";  // --schedule: linear | cosine | sigmoid (chapter 02)
  std::int64_t T = 1000;            // -T: diffusion steps, for training and sampling [50]
  // training
  std::int64_t steps = 30000;      // --steps: optimizer steps [600]
  std::int64_t batch = 128;        // --batch: images per step [32]
  double lr = 2e-4;                // --lr: peak AdamW learning rate (DDPM: 2e-4) [3e-3]
  std::int64_t warmup = 1000;      // --warmup: linear LR warmup steps [50]
  double weight_decay = 0.0;       // --weight-decay: AdamW's decoupled decay
  double grad_clip = 1.0;          // --grad-clip: max global gradient norm (DDPM: 1)
  double ema = 0.9999;             // --ema: max EMA decay, reached after warmup [0.99]
  std::int64_t ckpt_every = 1000;  // --ckpt-every: steps between checkpoints [200]
  // sampling and evaluation
  std::string variance = "beta_tilde";  // --variance: beta | beta_tilde (sigma_t^2; beta_tilde: less noise at small T)
  bool clip_x0 = true;                  // --clip-x0 / --no-clip-x0: clip x0_hat to [-1, 1]
  std::int64_t samples = 10000;         // --samples: images generated for the evaluation [250]
  std::int64_t sample_batch = 1000;     // --sample-batch: images per sampler batch [250]
  std::int64_t video_every = 1000;      // --video-every: steps between training.mp4 frames [100]
  std::int64_t video_images = 16;       // --video-images: images in training.mp4 (fixed noise)
};
// ANCHOR_END: hyperparameters

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted = true; }

// beta by chapter 02's exercise code. With T != 1000 the linear schedule's end points are scaled by
// 1000 / T (Nichol & Dhariwal 2021) so that alpha_bar[T-1] stays near 0 (pure noise at the end).
Schedule make_schedule(const std::string& name, std::int64_t T) {
  if (name == "linear") {
    const double scale = 1000.0 / double(T);
    return dm::ch02::make_schedule(dm::ch02::linear_beta_schedule(T, 1e-4 * scale, 0.02 * scale));
  }
  return dm::ch02::named_schedule(name, T);
}

cv::Mat bgr(const cv::Mat& m) {
  if (m.channels() == 3) return m;
  cv::Mat out;
  cv::cvtColor(m, out, cv::COLOR_GRAY2BGR);
  return out;
}

// ANCHOR: sampler
// Algorithm 2: x_T ~ N(0, I), then x_{t-1} = p_sample(x_t, eps_theta(x_t, t)) for t = T-1 .. 0.
// on_step(t, x_t, x0_hat) is called after every step (for the videos); gen draws z.
torch::Tensor sample(
    dm::nn::UNet& model, const Schedule& s, torch::Tensor x, dm::ch03::Variance variance, bool clip_x0,
    at::Generator gen,
    const std::function<void(std::int64_t, const torch::Tensor&, const torch::Tensor&)>& on_step = {}) {
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  for (std::int64_t t = s.T() - 1; t >= 0; --t) {
    auto tt = torch::full({x.size(0)}, t, torch::TensorOptions().dtype(torch::kLong).device(x.device()));
    auto eps = model->forward(x, tt);
    auto z = torch::randn(x.sizes(), gen, torch::TensorOptions().device(torch::kCPU)).to(x.device());
    auto step = dm::ch03::p_sample(s, x, t, eps, z, variance, clip_x0);
    x = step.x_prev;
    if (on_step) on_step(t, x, step.x0_hat);
  }
  model->train(was_training);
  return x;
}
// ANCHOR_END: sampler

std::vector<double> to_vector(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

at::Generator make_gen(std::uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

// FNV-1a over the raw bytes of every parameter, in name order: equal hashes = bit-identical weights.
std::uint64_t weights_hash(const torch::nn::Module& m) {
  std::uint64_t h = 1469598103934665603ull;
  for (const auto& kv : m.named_parameters()) {
    auto c = kv.value().detach().cpu().contiguous();
    const auto* p = static_cast<const unsigned char*>(c.data_ptr());
    for (std::size_t i = 0; i < c.nbytes(); ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chapter 03: DDPM on Fashion-MNIST (train, sample, evaluate)"};
  dm::CommonFlags flags{"03_ddpm"};
  dm::add_common_flags(app, flags);
  Config cfg;
  bool resume = false, sample_only = false, train_only = false;
  std::int64_t stop_after = 0;
  std::string ckpt_flag;
  // Set by the user, so --quick does not overwrite them.
  std::map<std::string, CLI::Option*> set_by_user;
  set_by_user["width"] = app.add_option("--width", cfg.width, "channels of the first U-Net level");
  set_by_user["mults"] =
      app.add_option("--mults", cfg.mults, "width multipliers per level, e.g. 1,2,2")->delimiter(',');
  set_by_user["res-blocks"] = app.add_option("--res-blocks", cfg.res_blocks, "ResBlocks per level");
  set_by_user["attn"] = app.add_option("--attn", cfg.attn, "resolutions with self-attention, e.g. 7")->delimiter(',');
  set_by_user["dropout"] = app.add_option("--dropout", cfg.dropout, "dropout inside ResBlocks");
  app.add_option("--schedule", cfg.schedule, "beta schedule")->check(CLI::IsMember({"linear", "cosine", "sigmoid"}));
  set_by_user["T"] = app.add_option("-T", cfg.T, "diffusion steps");
  set_by_user["steps"] = app.add_option("--steps", cfg.steps, "optimizer steps (the total, also with --resume)");
  set_by_user["batch"] = app.add_option("--batch", cfg.batch, "images per training step");
  set_by_user["lr"] = app.add_option("--lr", cfg.lr, "peak learning rate");
  set_by_user["warmup"] = app.add_option("--warmup", cfg.warmup, "linear warmup steps");
  app.add_option("--weight-decay", cfg.weight_decay, "AdamW weight decay");
  app.add_option("--grad-clip", cfg.grad_clip, "max global gradient norm");
  set_by_user["ema"] = app.add_option("--ema", cfg.ema, "max EMA decay");
  set_by_user["ckpt-every"] = app.add_option("--ckpt-every", cfg.ckpt_every, "steps between checkpoints");
  app.add_option("--variance", cfg.variance, "sigma_t^2 of the sampler")->check(CLI::IsMember({"beta", "beta_tilde"}));
  app.add_flag("--clip-x0,!--no-clip-x0", cfg.clip_x0, "clip x0_hat to [-1, 1] while sampling");
  set_by_user["samples"] = app.add_option("--samples", cfg.samples, "images generated for the evaluation");
  set_by_user["sample-batch"] = app.add_option("--sample-batch", cfg.sample_batch, "images per sampler batch");
  set_by_user["video-every"] = app.add_option("--video-every", cfg.video_every, "steps between training.mp4 frames");
  app.add_option("--video-images", cfg.video_images, "images in training.mp4");
  app.add_flag("--resume", resume, "continue from the checkpoint (runs/03_ddpm/ckpt.pt or --ckpt)");
  app.add_flag("--sample-only", sample_only, "skip training: sample and evaluate the checkpoint");
  app.add_flag("--train-only", train_only, "stop after training (no sampling, no evaluation)");
  app.add_option("--ckpt", ckpt_flag, "checkpoint path (default: <out>/03_ddpm/ckpt.pt)");
  app.add_option("--stop-after", stop_after, "act as if Ctrl-C came after this many steps (tests)")
      ->group("");  // hidden

  return dm::run_main(app, argc, argv, [&] {
    if (flags.quick) {
      auto quick = [&](const char* name, auto& field, auto value) {
        if (set_by_user.at(name)->count() == 0) field = value;
      };
      quick("width", cfg.width, std::int64_t{16});
      quick("res-blocks", cfg.res_blocks, std::int64_t{1});
      quick("dropout", cfg.dropout, 0.0);
      quick("T", cfg.T, std::int64_t{50});
      quick("steps", cfg.steps, std::int64_t{600});
      quick("batch", cfg.batch, std::int64_t{32});
      quick("lr", cfg.lr, 3e-3);
      quick("warmup", cfg.warmup, std::int64_t{50});
      quick("ema", cfg.ema, 0.99);
      quick("ckpt-every", cfg.ckpt_every, std::int64_t{200});
      quick("samples", cfg.samples, std::int64_t{250});
      quick("sample-batch", cfg.sample_batch, std::int64_t{250});
      quick("video-every", cfg.video_every, std::int64_t{100});
    }
    // ---- bad input: usage errors (exit 2) ----
    auto positive = [](const char* flag, std::int64_t v) {
      if (v < 1) throw dm::UsageError(fmt::format("{} must be >= 1 (got {})", flag, v));
    };
    positive("--steps", cfg.steps);
    positive("--batch", cfg.batch);
    positive("--samples", cfg.samples);
    positive("--sample-batch", cfg.sample_batch);
    positive("--video-every", cfg.video_every);
    positive("--ckpt-every", cfg.ckpt_every);
    positive("--video-images", cfg.video_images);
    if (cfg.T < 2) throw dm::UsageError(fmt::format("-T must be >= 2 (got {})", cfg.T));
    if (cfg.samples < 10)
      throw dm::UsageError(fmt::format("--samples must be >= 10 for the evaluation (got {})", cfg.samples));
    if (!(cfg.lr > 0)) throw dm::UsageError(fmt::format("--lr must be > 0 (got {})", cfg.lr));
    if (cfg.warmup < 0) throw dm::UsageError(fmt::format("--warmup must be >= 0 (got {})", cfg.warmup));
    if (!(cfg.ema >= 0 && cfg.ema < 1)) throw dm::UsageError(fmt::format("--ema must be in [0, 1) (got {})", cfg.ema));
    if (!(cfg.grad_clip > 0)) throw dm::UsageError(fmt::format("--grad-clip must be > 0 (got {})", cfg.grad_clip));
    if (resume && sample_only) throw dm::UsageError("--resume and --sample-only exclude each other");

    dm::nn::UNetConfig ucfg;
    ucfg.base_width = cfg.width;
    ucfg.channel_mults = cfg.mults;
    ucfg.res_blocks_per_level = cfg.res_blocks;
    ucfg.attention_resolutions = cfg.attn;
    ucfg.dropout = cfg.dropout;
    ucfg.groups = std::min<std::int64_t>(8, cfg.width);
    ucfg.validate();  // dm::UsageError naming the flag

    dm::init_runtime(flags);
    const auto device = dm::pick_device(flags.device);
    dm::RunDir run(flags.out_root, flags.chapter);
    const std::filesystem::path ckpt =
        ckpt_flag.empty() ? run.file(dm::nn::kDefaultCheckpointName) : std::filesystem::path(ckpt_flag);
    const auto variance = cfg.variance == "beta" ? dm::ch03::Variance::Beta : dm::ch03::Variance::BetaTilde;
    fmt::print("device = {} | track = {}\n", device.str(), dm::track());

    const Schedule s = make_schedule(cfg.schedule, cfg.T);
    fmt::print("schedule = {}, T = {}: beta[0] = {:.3g}, beta[T-1] = {:.3g}, alpha_bar[T-1] = {:.3g}\n", cfg.schedule,
               cfg.T, s.beta[0].item<double>(), s.beta[cfg.T - 1].item<double>(),
               s.alpha_bar[cfg.T - 1].item<double>());

    // ---- model, EMA, optimizer ----
    dm::nn::UNet model(ucfg), ema(ucfg);
    dm::nn::copy_weights(*model, *ema);
    model->to(device);
    ema->to(device);
    ema->eval();
    torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(cfg.lr).weight_decay(cfg.weight_decay));
    fmt::print("U-Net: {} | parameters = {}\n", ucfg.describe(), model->num_parameters());
    dm::nn::TrainingState state{model, ema, &opt, 0, nlohmann::json::object()};
    std::vector<double> losses;
    if (resume || sample_only) {
      dm::nn::load_checkpoint(ckpt, state, /*restore_rng=*/!sample_only);
      const auto ck_schedule = state.meta.value("schedule", std::string{});
      const auto ck_T = state.meta.value("T", std::int64_t{0});
      if (ck_schedule != cfg.schedule || ck_T != cfg.T)
        throw dm::UserError(
            fmt::format("checkpoint {} was trained with schedule {} and T = {}, this run uses {} and "
                        "T = {}: pass --schedule {} -T {}, or delete it",
                        ckpt.string(), ck_schedule, ck_T, cfg.schedule, cfg.T, ck_schedule, ck_T));
      if (state.meta.contains("losses")) losses = state.meta.at("losses").get<std::vector<double>>();
      fmt::print("loaded checkpoint {} at step {}\n", ckpt.string(), state.step);
      if (resume && state.step >= cfg.steps)
        fmt::print("the checkpoint already has {} >= --steps {} steps: nothing to train\n", state.step, cfg.steps);
    }

    // ---- data ----
    const auto data = dm::load_fashion_mnist(flags.data_dir, dm::Split::Train);
    const auto images = data.images.to(device);  // [60000, 1, 28, 28] in [-1, 1]
    fmt::print("data: {} training images\n", images.size(0));

    // Fixed noise for training.mp4: its own generator, so previews do not change the training draws.
    const auto fixed_noise = torch::randn({cfg.video_images, 1, 28, 28}, make_gen(flags.seed + 1)).to(device);
    std::unique_ptr<dm::VideoWriter> train_video;
    auto preview = [&](std::int64_t step) {
      auto x = sample(ema, s, fixed_noise, variance, cfg.clip_x0, make_gen(flags.seed + 2));
      auto grid = bgr(dm::make_grid(x.cpu(), 4, 2, 3));
      dm::put_label(grid, fmt::format("step {}", step));
      if (!train_video) train_video = std::make_unique<dm::VideoWriter>(run.file("training.mp4"), 4, grid.size());
      train_video->write(grid);
    };

    auto save = [&](std::int64_t step) {
      state.step = step;
      state.meta["schedule"] = cfg.schedule;
      state.meta["T"] = cfg.T;
      state.meta["beta"] = to_vector(s.beta);  // the exact schedule (linear is rescaled when T != 1000)
      state.meta["losses"] = losses;
      dm::nn::save_checkpoint(ckpt, state);
    };

    // ---- training (Algorithm 1) ----
    const auto t_train0 = Clock::now();
    int exit_code = 0;
    std::int64_t last_good = state.step;
    if (!sample_only && state.step < cfg.steps) {
      std::signal(SIGINT, on_sigint);
      model->train();
      dm::Progress bar("train", cfg.steps);
      double smooth = losses.empty() ? 0.0 : losses.back();
      // ANCHOR: train_step
      for (std::int64_t step = state.step; step < cfg.steps; ++step) {
        if (g_interrupted || (stop_after > 0 && step == stop_after)) {
          save(step);
          bar.finish();
          fmt::print("interrupted at step {}: checkpoint saved to {}; continue with --resume\n", step, ckpt.string());
          exit_code = 130;
          break;
        }
        const double lr = cfg.lr * std::min(1.0, double(step + 1) / double(std::max<std::int64_t>(cfg.warmup, 1)));
        for (auto& group : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);

        auto idx = torch::randint(images.size(0), {cfg.batch}, torch::kLong).to(device);  // uniform minibatch
        auto x0 = images.index_select(0, idx);                                            // [B, 1, 28, 28]
        auto t = torch::randint(cfg.T, {cfg.batch}, torch::kLong).to(device);             // t ~ U{0..T-1}
        auto eps = torch::randn(x0.sizes()).to(device);                                   // eps ~ N(0, I)
        auto loss = dm::nn::with_oom_advice("the training step", cfg.batch, [&] {
          auto l = dm::ch03::l_simple(
              s, [&](const torch::Tensor& xt, const torch::Tensor& tt) { return model->forward(xt, tt); }, x0, t, eps);
          opt.zero_grad();
          l.backward();
          return l;
        });
        const double value = loss.item<double>();
        if (!std::isfinite(value)) {
          bar.finish();
          const auto kept = last_good > 0 ? fmt::format(
                                                "The last good checkpoint is step {} ({}), untouched; lower "
                                                "--lr (now {}) or raise --warmup, then --resume.",
                                                last_good, ckpt.string(), cfg.lr)
                                          : fmt::format(
                                                "No checkpoint was written yet; lower --lr (now {}) or raise "
                                                "--warmup and start again.",
                                                cfg.lr);
          throw dm::UserError(fmt::format("the loss is {} at step {}: training stopped. {}", value, step, kept));
        }
        torch::nn::utils::clip_grad_norm_(model->parameters(), cfg.grad_clip);
        opt.step();
        {
          std::vector<torch::Tensor> e = ema->parameters(), p = model->parameters();
          dm::ch03::ema_update(e, p, dm::ch03::ema_decay(step, cfg.ema));
        }
        // ANCHOR_END: train_step
        losses.push_back(value);
        smooth = losses.size() == 1 ? value : 0.98 * smooth + 0.02 * value;
        bar.update(step + 1, smooth);
        if ((step + 1) % cfg.video_every == 0 || step == 0) preview(step + 1);
        if ((step + 1) % cfg.ckpt_every == 0 || step + 1 == cfg.steps) {
          save(step + 1);
          last_good = step + 1;
        }
      }
      bar.finish();
      std::signal(SIGINT, SIG_DFL);
    }
    const double train_s = std::chrono::duration<double>(Clock::now() - t_train0).count();
    if (train_video) train_video->close();
    if (exit_code != 0) return exit_code;
    fmt::print("train wall time = {:.1f} s ({} steps of {} images)\n", train_s, cfg.steps, cfg.batch);
    fmt::print("weights hash: model {:016x}, EMA {:016x} (step {})\n", weights_hash(*model), weights_hash(*ema),
               std::max(state.step, cfg.steps));
    if (train_only) return 0;

    // ---- loss curve ----
    if (!losses.empty()) {
      std::vector<double> x(losses.size()), sm(losses.size());
      double acc = losses[0];
      for (std::size_t i = 0; i < losses.size(); ++i) {
        x[i] = double(i + 1);
        acc = i == 0 ? losses[0] : 0.98 * acc + 0.02 * losses[i];
        sm[i] = acc;
      }
      dm::Figure fig{"L_simple during training", "step", "loss (MSE of eps)"};
      fig.line(x, losses, "per step", dm::Style::thin(0.35)).line(x, sm, "smoothed (EMA 0.98)").logy();
      fig.save(run.file("loss.png"));
      fmt::print("loss: first = {:.4f}, last (smoothed) = {:.4f}\n", losses.front(), sm.back());
    }

    // ---- sampling (Algorithm 2) ----
    const auto t_sample0 = Clock::now();
    auto gen = make_gen(flags.seed + 3);
    std::vector<torch::Tensor> out;
    std::unique_ptr<dm::VideoWriter> denoise;
    const std::int64_t every = std::max<std::int64_t>(1, cfg.T / 100);  // ~100 video frames
    dm::Progress sbar("sample", cfg.samples);
    for (std::int64_t done = 0; done < cfg.samples; done += cfg.sample_batch) {
      const auto n = std::min(cfg.sample_batch, cfg.samples - done);
      auto x_T = torch::randn({n, 1, 28, 28}, gen).to(device);
      std::function<void(std::int64_t, const torch::Tensor&, const torch::Tensor&)> on_step;
      if (done == 0) {
        on_step = [&](std::int64_t t, const torch::Tensor& x, const torch::Tensor& x0) {
          if (t % every != 0 && t != 0) return;
          const auto k = std::min<std::int64_t>(16, x.size(0));
          auto left = bgr(dm::make_grid(x.slice(0, 0, k).cpu(), 4, 2, 3));
          auto right = bgr(dm::make_grid(x0.slice(0, 0, k).cpu(), 4, 2, 3));
          dm::put_label(left, fmt::format("x_t, t = {}", t));
          dm::put_label(right, "x0_hat");
          auto frame = dm::hstack({left, right});
          if (!denoise) denoise = std::make_unique<dm::VideoWriter>(run.file("denoise.mp4"), 20, frame.size());
          denoise->write(frame);
        };
      }
      auto x = dm::nn::with_oom_advice("sampling", cfg.sample_batch,
                                       [&] { return sample(ema, s, x_T, variance, cfg.clip_x0, gen, on_step); });
      out.push_back(x.clamp(-1, 1).cpu());
      sbar.update(done + n);
    }
    sbar.finish();
    if (denoise) denoise->close();
    const auto samples = torch::cat(out);
    const double sample_s = std::chrono::duration<double>(Clock::now() - t_sample0).count();
    fmt::print("sample wall time = {:.1f} s ({} images x {} steps, {:.1f} images/s)\n", sample_s, cfg.samples, cfg.T,
               double(cfg.samples) / sample_s);
    dm::save_png(run.file("samples.png"), dm::make_grid(samples.slice(0, 0, 64), 8, 2, 2));

    // ---- evaluation ----
    const auto t_eval0 = Clock::now();
    dm::eval::EvalOptions eo;
    eo.cache_dir = std::filesystem::path(flags.out_root) / "cache";
    eo.data_dir = flags.data_dir;
    eo.device = device;
    eo.quick = flags.quick;
    dm::eval::Evaluator evaluator(eo);
    const auto report = evaluator.evaluate(samples);
    const double eval_s = std::chrono::duration<double>(Clock::now() - t_eval0).count();
    fmt::print("{}\n", report.summary());
    fmt::print("FID = {:.2f} (real-vs-real floor {:.2f}, n = {})\n", report.fid, report.fid_floor, report.n);
    std::string hist;
    for (std::size_t c = 0; c < 10; ++c)
      hist += fmt::format("{}{} {:.0f}%", c ? ", " : "", dm::kFashionMnistClasses[c], 100 * report.class_histogram[c]);
    fmt::print("class histogram: {}\n", hist);
    fmt::print("max class fraction = {:.1f}% | mean confidence = {:.3f}\n", 100 * report.max_class_fraction,
               report.mean_confidence);

    auto& m = run.metrics();
    m["device"] = device.str();
    m["track"] = dm::track();
    m["quick"] = flags.quick;
    m["unet"] = ucfg.to_json();
    m["parameters"] = model->num_parameters();
    m["schedule"] = cfg.schedule;
    m["T"] = cfg.T;
    m["train"] = {{"steps", cfg.steps},
                  {"batch", cfg.batch},
                  {"lr", cfg.lr},
                  {"warmup", cfg.warmup},
                  {"grad_clip", cfg.grad_clip},
                  {"ema", cfg.ema},
                  {"wall_s", train_s},
                  {"final_loss", losses.empty() ? 0.0 : losses.back()}};
    m["sample"] = {{"n", cfg.samples}, {"variance", cfg.variance}, {"clip_x0", cfg.clip_x0}, {"wall_s", sample_s}};
    m["eval"] = report.to_json();
    m["eval"]["wall_s"] = eval_s;
    m["threads"] = torch::get_num_threads();
    m["checkpoint"] = ckpt.string();
    run.save_metrics();
    fmt::print("wrote {}\n", run.path().string());
    return 0;
  });
}
