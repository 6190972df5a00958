// Chapter 03: DDPM (Ho et al. 2020) on Fashion-MNIST: train, sample, evaluate.
//
//   train     Algorithm 1: the student's training step (03.6) with L_simple (03.2), the EMA (03.4)
//             and the U-Net conditioned on the student's timestep embedding (03.1), inside the course
//             library's loop (dm/train/loop.hpp: checkpoints, Ctrl-C, the NaN guard, progress)
//   sample    Algorithm 2: the student's ancestral sampler (03.7) over the reverse step (03.3), from
//             the EMA weights, with every step or respaced to --sample-steps of them
//             (03_ddpm/respace.hpp, Nichol & Dhariwal 2021)
//   evaluate  FID (through the student's Fréchet distance, 03.5), KID, precision/recall and the class
//             histogram with the course's own classifier (dm/eval)
// and prints the ELBO's weights (03.8) that L_simple drops. Writes
//   runs/03_ddpm/loss.png          the training loss (per step, and a centred mean)
//   runs/03_ddpm/elbo_weights.png  the ELBO's weight of each t, for both reverse variances
//   runs/03_ddpm/samples.png       a grid of generated images
//   runs/03_ddpm/nearest.png       8 samples (top) and their nearest training images (bottom)
//   runs/03_ddpm/denoise.mp4       x_t (left) and x0_hat (right) over the reverse process
//   runs/03_ddpm/training.mp4      samples from the same fixed noise every --video-every steps
//   runs/03_ddpm/ckpt.pt           the checkpoint (model, EMA, optimizer, step, RNG): --resume
//                                  (--init starts from a model file instead: weights and step only)
//   runs/03_ddpm/model.dmt         the EMA weights as a course tensor file: what chapter 05 samples
//   runs/03_ddpm/metrics.json      hyperparameters, wall times, the evaluation report
// With --eval-sanity it trains nothing: it prints the evaluation's sanity table (dm/eval/sanity.hpp: the
// metrics on real, noisy, blurred, one-class and uniform-noise images, lesson 03 section 6), writes
// runs/03_ddpm/eval_sanity.json and exits.
//
// Ctrl-C saves a checkpoint at the next step boundary and exits with 130; --resume continues it. On
// the CPU with --deterministic, an interrupted and resumed run ends with the same weights as an
// uninterrupted one (tests/03_ddpm/resume_check.sh).
//
//   build/default/bin/solutions/03_ddpm --quick                      (CPU, minutes)
//   build/default/bin/solutions/03_ddpm --device cuda                (the full recipe, a GPU)
//   build/default/bin/solutions/03_ddpm --quick --resume             (after Ctrl-C)
//   build/default/bin/solutions/03_ddpm --eval-sanity                (the evaluation's sanity table)
#include <fmt/core.h>
#include <torch/torch.h>
#include <CLI/CLI.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <ATen/CPUGeneratorImpl.h>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "02_forward_noising/schedule.hpp"
#include "03_ddpm/algorithms.hpp"
#include "03_ddpm/ddpm.hpp"
#include "03_ddpm/elbo.hpp"
#include "03_ddpm/frechet.hpp"
#include "03_ddpm/respace.hpp"
#include "dm/atomic_write.hpp"
#include "dm/cli.hpp"
#include "dm/data/fashion_mnist.hpp"
#include "dm/device.hpp"
#include "dm/errors.hpp"
#include "dm/eval/evaluator.hpp"
#include "dm/eval/memorisation.hpp"
#include "dm/eval/sanity.hpp"
#include "dm/image.hpp"
#include "dm/nn/checkpoint.hpp"
#include "dm/nn/oom.hpp"
#include "dm/nn/unet.hpp"
#include "dm/plot.hpp"
#include "dm/progress.hpp"
#include "dm/run_dir.hpp"
#include "dm/runtime.hpp"
#include "dm/train/loop.hpp"
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
  std::int64_t T = 1000;            // -T: diffusion steps the model is trained with
  // training
  std::int64_t steps = 30000;      // --steps: optimizer steps [1000]
  std::int64_t batch = 128;        // --batch: images per step [32]
  double lr = 2e-4;                // --lr: peak AdamW learning rate (DDPM: 2e-4) [3e-3]
  std::int64_t warmup = 1000;      // --warmup: linear LR warmup steps [50]
  double weight_decay = 0.0;       // --weight-decay: AdamW's decoupled decay
  double grad_clip = 1.0;          // --grad-clip: max global gradient norm (DDPM: 1)
  double ema = 0.9999;             // --ema: max EMA decay, reached after warmup [0.99]
  std::int64_t ckpt_every = 1000;  // --ckpt-every: steps between checkpoints [200]
  // sampling and evaluation
  std::int64_t sample_steps = 0;        // --sample-steps: reverse steps, respaced when < T; 0: all T [50]
  std::string variance = "beta_tilde";  // --variance: beta | beta_tilde (sigma_t^2; beta_tilde: less noise at small T)
  bool clip_x0 = true;                  // --clip-x0 / --no-clip-x0: clip x0_hat to [-1, 1]
  std::int64_t samples = 10000;         // --samples: images generated for the evaluation [250]
  std::int64_t sample_batch = 1000;     // --sample-batch: images per sampler batch [250]
  std::int64_t video_every = 1000;      // --video-every: steps between training.mp4 frames [100]
  std::int64_t video_images = 16;       // --video-images: images in training.mp4 (fixed noise)
};
// ANCHOR_END: hyperparameters

// beta by chapter 02's exercise code. With T != 1000 the linear schedule's end points are scaled by
// 1000 / T (Nichol & Dhariwal 2021) so that alpha_bar[T-1] stays near 0 (pure noise at the end).
Schedule make_schedule(const std::string& name, std::int64_t T) {
  if (name == "linear") {
    const double scale = 1000.0 / double(T);
    if (0.02 * scale >= 1)
      throw dm::UsageError(
          fmt::format("-T {}: the linear schedule scaled to {} steps would reach beta = {:.3g} >= 1; "
                      "use -T 21 or more, or --schedule cosine",
                      T, T, 0.02 * scale));
    return dm::ch02::make_schedule(dm::ch02::linear_beta_schedule(T, 1e-4 * scale, 0.02 * scale));
  }
  return dm::ch02::named_schedule(name, T);
}

at::Generator make_gen(std::uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

// What training changes and the checkpoint keeps.
struct Trainee {
  dm::nn::UNet model{nullptr}, ema{nullptr};
  std::unique_ptr<torch::optim::AdamW> opt;
  std::vector<double> losses;
  std::int64_t step = 0;
  std::int64_t warmup_from = 0;  // the step the LR warmup starts at: 0, or the step of --init's weights
  std::int64_t losses_from = 0;  // losses[i] is step losses_from + i + 1's (--init: none recorded before)
};

// ANCHOR: train
// Algorithm 1, one minibatch at a time: the student's train_step (03.6) with its real parts.
dm::train::LoopResult train(Trainee& tr, const Schedule& s, const torch::Tensor& images, const Config& cfg,
                            const dm::train::LoopOptions& loop, const std::function<void(std::int64_t)>& save,
                            const std::function<void(std::int64_t)>& preview) {
  const auto device = images.device();
  dm::ch03::TrainStepParts parts;
  parts.eps_theta = [&](const torch::Tensor& x_t, const torch::Tensor& t) { return tr.model->forward(x_t, t); };
  parts.params = tr.model->parameters();
  parts.loss = dm::ch03::l_simple;  // 03.2
  parts.draws.timesteps = [&](std::int64_t B, std::int64_t T) {
    return torch::randint(T, {B}, torch::kLong).to(device);  // t ~ U{0..T-1}
  };
  parts.draws.noise = [&](const torch::Tensor& x0) { return torch::randn(x0.sizes()).to(device); };  // eps ~ N(0, I)
  parts.zero_grad = [&] { tr.opt->zero_grad(); };
  parts.optimizer_step = [&] { tr.opt->step(); };
  parts.update_ema = [&](std::int64_t step) {  // 03.4
    dm::ch03::ema_update(tr.ema->parameters(), tr.model->parameters(), dm::ch03::ema_decay(step, cfg.ema));
  };
  tr.model->train();
  dm::train::LoopHooks hooks;
  hooks.save = save;
  hooks.preview = preview;
  hooks.step = [&](std::int64_t step) {
    const double into = double(step - tr.warmup_from + 1);  // a fresh optimizer (--init) warms up again
    const double lr = cfg.lr * std::min(1.0, into / double(std::max<std::int64_t>(cfg.warmup, 1)));
    for (auto& group : tr.opt->param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    auto idx = torch::randint(images.size(0), {cfg.batch}, torch::kLong).to(device);  // a uniform minibatch
    auto x0 = images.index_select(0, idx);                                            // [B, 1, 28, 28]
    const auto r = dm::nn::with_oom_advice("the training step", cfg.batch, [&] {
      return dm::ch03::train_step(parts, s, x0, step, cfg.grad_clip);  // 03.6
    });
    return dm::train::StepOutcome{r.loss, r.stepped};
  };
  return dm::train::run_training(loop, hooks, tr.step, tr.losses);
}
// ANCHOR_END: train

// ANCHOR: sample
// Algorithm 2 from x_T: the student's p_sample_loop (03.7) over their reverse step (03.3), on the
// respaced schedule r (all T steps, or K of them); the network is asked at the original timesteps.
torch::Tensor sample(dm::nn::UNet& model, const dm::ch03::Respaced& r, const torch::Tensor& x_T,
                     dm::ch03::Variance variance, bool clip_x0, at::Generator gen,
                     const dm::ch03::SampleCallback& on_step = nullptr) {
  const bool was_training = model->is_training();
  model->eval();
  auto eps_theta = dm::ch03::at_original_timesteps(
      [&](const torch::Tensor& x, const torch::Tensor& t) { return model->forward(x, t); }, r);
  auto step = [&](const torch::Tensor& x, std::int64_t k, const torch::Tensor& eps, const torch::Tensor& z) {
    return dm::ch03::p_sample(r.schedule, x, k, eps, z, variance, clip_x0);
  };
  auto noise = [&](const torch::Tensor& x, std::int64_t) {
    return torch::randn(x.sizes(), gen, torch::TensorOptions().device(torch::kCPU)).to(x.device());
  };
  auto x = dm::ch03::p_sample_loop(eps_theta, step, r.schedule.T(), x_T, noise, on_step);
  model->train(was_training);
  return x;
}
// ANCHOR_END: sample

// ANCHOR: evaluate
// The samples against the test set, in the course classifier's feature space; FID through 03.5.
dm::eval::EvalOptions eval_options(const dm::CommonFlags& flags, const torch::Device& device) {
  return dm::eval::chapter_eval_options(flags.out_root, flags.data_dir, device, flags.quick,
                                        dm::ch03::frechet_distance);  // 03.5
}

dm::eval::EvalReport evaluate(const torch::Tensor& samples, const dm::CommonFlags& flags, const torch::Device& device) {
  return dm::eval::Evaluator(eval_options(flags, device)).evaluate(samples);
}
// ANCHOR_END: evaluate

// Memorisation: each sample's nearest training image (classifier features) against held-out test images';
// nearest.png shows 8 samples (top) above their nearest training images (bottom).
dm::eval::Memorisation memorise_check(const torch::Tensor& samples, const dm::CommonFlags& flags,
                                      const torch::Device& device, const std::filesystem::path& png) {
  auto eo = eval_options(flags, device);
  eo.verbose = false;  // evaluate() has said which classifier
  const dm::eval::Evaluator evaluator(eo);
  const auto train = dm::load_fashion_mnist(flags.data_dir, dm::Split::Train);
  const auto test = dm::load_fashion_mnist(flags.data_dir, dm::Split::Test, samples.size(0));
  auto memo = dm::eval::memorisation_check(evaluator, samples, train.images, test.images);
  fmt::print("{}\n", memo.summary());
  const auto k = std::min<std::int64_t>(8, samples.size(0));
  const auto idx = torch::tensor(std::vector<std::int64_t>(memo.nearest.begin(), memo.nearest.begin() + k));
  const auto pairs = torch::cat({samples.slice(0, 0, k), train.images.index_select(0, idx)});
  dm::save_png(png, dm::make_grid(pairs, int(k), 2, 3));
  return memo;
}

// --eval-sanity: what the metrics say about real images and known damage (lesson 03, section 6).
int eval_sanity(const dm::CommonFlags& flags, const torch::Device& device, dm::RunDir& run) {
  const dm::eval::Evaluator evaluator(eval_options(flags, device));
  const auto train = dm::load_fashion_mnist(flags.data_dir, dm::Split::Train);
  const auto table = dm::eval::sanity_table(evaluator, train);
  fmt::print("\n{}", table.text());
  auto& m = run.metrics();
  m["eval_sanity"] = table.to_json();
  m["device"] = device.str();
  m["threads"] = torch::get_num_threads();
  // Its own file: metrics.json belongs to the last training run.
  dm::write_file_atomic(run.file("eval_sanity.json"), m.dump(2) + "\n");
  fmt::print("wrote {}\n", run.file("eval_sanity.json").string());
  return 0;
}

// The ELBO's weight of each t (03.8), which L_simple replaces by 1: printed at a few t and plotted.
void show_elbo_weights(const Schedule& s, const std::filesystem::path& png) {
  const auto beta = dm::ch03::elbo_weights(s, dm::ch03::Variance::Beta);
  const auto tilde = dm::ch03::elbo_weights(s, dm::ch03::Variance::BetaTilde);
  std::string line;
  for (std::int64_t t : {std::int64_t{1}, s.T() / 10, s.T() / 2, s.T() - 1})
    line += fmt::format("{}t = {}: {:.3g} / {:.3g}", line.empty() ? "" : ", ", t, beta[t].item<double>(),
                        tilde[t].item<double>());
  fmt::print("ELBO weight lambda_t (sigma^2 = beta / beta_tilde): {}; L_simple weighs every t by 1\n", line);
  std::vector<double> t(static_cast<std::size_t>(s.T() - 1)), lb(t.size()), lt(t.size());
  for (std::int64_t i = 1; i < s.T(); ++i) {
    t[i - 1] = double(i);
    lb[i - 1] = beta[i].item<double>();
    lt[i - 1] = tilde[i].item<double>();
  }
  dm::Figure fig{"The ELBO's weight of each term L_{t-1}", "t", "lambda_t"};
  fig.line(t, lb, "sigma^2 = beta").line(t, lt, "sigma^2 = beta_tilde", dm::Style::dashed()).logy();
  fig.save(png);
}

cv::Mat bgr(const cv::Mat& m) {
  if (m.channels() == 3) return m;
  cv::Mat out;
  cv::cvtColor(m, out, cv::COLOR_GRAY2BGR);
  return out;
}

std::vector<double> to_vector(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

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

// --init: the weights of a model file (model and EMA both), its step count, a fresh optimizer. The file
// must hold this run's U-Net and schedule.
static void init_from(const std::filesystem::path& file, const dm::nn::UNetConfig& ucfg, const Config& cfg, Trainee& tr,
                      const torch::Device& device) {
  auto loaded = dm::nn::load_model_file(file, device, dm::ch03::sinusoidal_embedding_fn());
  if (loaded.config.to_json() != ucfg.to_json())
    throw dm::UserError(
        fmt::format("--init {}: its U-Net is {}, this run builds {}: pass the U-Net flags it was "
                    "trained with (its .json beside it lists them)",
                    file.string(), loaded.config.describe(), ucfg.describe()));
  const auto schedule = loaded.meta.value("schedule", std::string{});
  const auto T = loaded.meta.value("T", std::int64_t{0});
  if (schedule != cfg.schedule || T != cfg.T)
    throw dm::UserError(fmt::format("--init {}: trained with schedule {} and T = {}, this run uses {} and T = {}",
                                    file.string(), schedule, T, cfg.schedule, cfg.T));
  torch::NoGradGuard no_grad;
  dm::nn::copy_weights(*loaded.model, *tr.model);
  dm::nn::copy_weights(*loaded.model, *tr.ema);
  tr.step = tr.warmup_from = tr.losses_from = loaded.meta.value("step", std::int64_t{0});
  fmt::print("started from {} at step {}: model and EMA take its weights, the optimizer starts fresh\n", file.string(),
             tr.step);
  if (tr.step >= cfg.steps) fmt::print("it already has {} >= --steps {} steps: nothing to train\n", tr.step, cfg.steps);
}

int main(int argc, char** argv) {
  CLI::App app{"Chapter 03: DDPM on Fashion-MNIST (train, sample, evaluate)"};
  dm::CommonFlags flags{"03_ddpm"};
  dm::add_common_flags(app, flags);
  Config cfg;
  bool resume = false, sample_only = false, train_only = false, sanity = false;
  std::int64_t stop_after = 0;
  std::string ckpt_flag, init_flag;
  const auto positive = CLI::PositiveNumber;
  const auto max_i64 = std::numeric_limits<std::int64_t>::max();
  // Set by the user, so --quick does not overwrite them.
  std::map<std::string, CLI::Option*> set_by_user;
  set_by_user["width"] = app.add_option("--width", cfg.width, "channels of the first U-Net level")->check(positive);
  set_by_user["mults"] =
      app.add_option("--mults", cfg.mults, "width multipliers per level, e.g. 1,2,2")->delimiter(',');
  set_by_user["res-blocks"] = app.add_option("--res-blocks", cfg.res_blocks, "ResBlocks per level")->check(positive);
  set_by_user["attn"] = app.add_option("--attn", cfg.attn, "resolutions with self-attention, e.g. 7")->delimiter(',');
  set_by_user["dropout"] =
      app.add_option("--dropout", cfg.dropout, "dropout inside ResBlocks")->check(dm::half_open(0, 1));
  app.add_option("--schedule", cfg.schedule, "beta schedule")->check(CLI::IsMember({"linear", "cosine", "sigmoid"}));
  app.add_option("-T", cfg.T, "diffusion steps of training")->check(CLI::Range(std::int64_t{2}, max_i64));
  set_by_user["steps"] =
      app.add_option("--steps", cfg.steps, "optimizer steps (the total, also with --resume)")->check(positive);
  set_by_user["batch"] = app.add_option("--batch", cfg.batch, "images per training step")->check(positive);
  set_by_user["lr"] = app.add_option("--lr", cfg.lr, "peak learning rate")->check(positive);
  set_by_user["warmup"] = app.add_option("--warmup", cfg.warmup, "linear warmup steps")->check(CLI::NonNegativeNumber);
  app.add_option("--weight-decay", cfg.weight_decay, "AdamW weight decay")->check(CLI::NonNegativeNumber);
  app.add_option("--grad-clip", cfg.grad_clip, "max global gradient norm")->check(positive);
  set_by_user["ema"] = app.add_option("--ema", cfg.ema, "max EMA decay")->check(dm::half_open(0, 1));
  set_by_user["ckpt-every"] =
      app.add_option("--ckpt-every", cfg.ckpt_every, "steps between checkpoints")->check(positive);
  set_by_user["sample-steps"] = app.add_option("--sample-steps", cfg.sample_steps,
                                               "reverse steps of sampling, respaced when fewer than T (0: all T)")
                                    ->check(CLI::NonNegativeNumber);
  app.add_option("--variance", cfg.variance, "sigma_t^2 of the sampler")->check(CLI::IsMember({"beta", "beta_tilde"}));
  app.add_flag("--clip-x0,!--no-clip-x0", cfg.clip_x0, "clip x0_hat to [-1, 1] while sampling");
  set_by_user["samples"] = app.add_option("--samples", cfg.samples, "images generated for the evaluation (>= 10)")
                               ->check(CLI::Range(std::int64_t{10}, max_i64));
  set_by_user["sample-batch"] =
      app.add_option("--sample-batch", cfg.sample_batch, "images per sampler batch")->check(positive);
  set_by_user["video-every"] =
      app.add_option("--video-every", cfg.video_every, "steps between training.mp4 frames")->check(positive);
  app.add_option("--video-images", cfg.video_images, "images in training.mp4")->check(positive);
  auto* resume_opt = app.add_flag("--resume", resume, "continue from the checkpoint (runs/03_ddpm/ckpt.pt or --ckpt)");
  auto* sample_only_opt =
      app.add_flag("--sample-only", sample_only, "skip training: sample and evaluate the checkpoint")
          ->excludes(resume_opt);
  auto* train_only_opt = app.add_flag("--train-only", train_only, "stop after training (no sampling, no evaluation)");
  app.add_flag("--eval-sanity", sanity,
               "train nothing: print the evaluation's sanity table (real, noisy, blurred, one-class and uniform-noise "
               "images, with intervals) and exit")
      ->excludes(resume_opt)
      ->excludes(sample_only_opt)
      ->excludes(train_only_opt);
  app.add_option("--ckpt", ckpt_flag, "checkpoint path (default: <out>/03_ddpm/ckpt.pt)");
  app.add_option("--init", init_flag,
                 "start from a model file's weights (e.g. reference/03_ddpm/model.dmt; same U-Net flags): its step "
                 "count goes on, the optimizer starts fresh and warms up again")
      ->check(CLI::ExistingFile)
      ->excludes(resume_opt)
      ->excludes(sample_only_opt);
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
      quick("sample-steps", cfg.sample_steps, std::int64_t{50});
      quick("steps", cfg.steps, std::int64_t{1000});
      quick("batch", cfg.batch, std::int64_t{32});
      quick("lr", cfg.lr, 3e-3);
      quick("warmup", cfg.warmup, std::int64_t{50});
      quick("ema", cfg.ema, 0.99);
      quick("ckpt-every", cfg.ckpt_every, std::int64_t{200});
      quick("samples", cfg.samples, std::int64_t{250});
      quick("sample-batch", cfg.sample_batch, std::int64_t{250});
      quick("video-every", cfg.video_every, std::int64_t{100});
    }
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
    if (sanity) return eval_sanity(flags, device, run);

    const Schedule s = make_schedule(cfg.schedule, cfg.T);
    fmt::print("schedule = {}, T = {}: beta[0] = {:.3g}, beta[T-1] = {:.3g}, alpha_bar[T-1] = {:.3g}\n", cfg.schedule,
               cfg.T, s.beta[0].item<double>(), s.beta[cfg.T - 1].item<double>(),
               s.alpha_bar[cfg.T - 1].item<double>());
    if (cfg.sample_steps > cfg.T)
      throw dm::UsageError(fmt::format("--sample-steps {}: more than the T = {} steps the model is trained with",
                                       cfg.sample_steps, cfg.T));
    const auto r = dm::ch03::respace(s, cfg.sample_steps == 0 ? cfg.T : cfg.sample_steps);
    const std::int64_t K = r.schedule.T();
    if (K < cfg.T)
      fmt::print("sampling: {} of the T = {} steps (respaced), t = {}, {}, ..., {}\n", K, cfg.T, r.timesteps[K - 1],
                 r.timesteps[K - 2], r.timesteps[0]);
    show_elbo_weights(s, run.file("elbo_weights.png"));

    // ---- model, EMA, optimizer: built fresh or restored ----
    Trainee tr;
    tr.model = dm::nn::UNet(ucfg, dm::ch03::sinusoidal_embedding_fn());  // conditioned on t by 03.1
    tr.ema = dm::nn::UNet(ucfg, dm::ch03::sinusoidal_embedding_fn());
    dm::nn::copy_weights(*tr.model, *tr.ema);
    tr.model->to(device);
    tr.ema->to(device);
    tr.ema->eval();
    tr.opt = std::make_unique<torch::optim::AdamW>(tr.model->parameters(),
                                                   torch::optim::AdamWOptions(cfg.lr).weight_decay(cfg.weight_decay));
    fmt::print("U-Net: {} | parameters = {}\n", ucfg.describe(), tr.model->num_parameters());
    dm::nn::TrainingState state{tr.model, tr.ema, tr.opt.get(), 0, nlohmann::json::object()};
    if (resume || sample_only) {
      dm::nn::load_checkpoint(ckpt, state, /*restore_rng=*/!sample_only);
      const auto ck_schedule = state.meta.value("schedule", std::string{});
      const auto ck_T = state.meta.value("T", std::int64_t{0});
      if (ck_schedule != cfg.schedule || ck_T != cfg.T)
        throw dm::UserError(
            fmt::format("checkpoint {} was trained with schedule {} and T = {}, this run uses {} and "
                        "T = {}: pass --schedule {} -T {}, or delete it",
                        ckpt.string(), ck_schedule, ck_T, cfg.schedule, cfg.T, ck_schedule, ck_T));
      if (state.meta.contains("losses")) tr.losses = state.meta.at("losses").get<std::vector<double>>();
      tr.step = state.step;
      tr.warmup_from = state.meta.value("warmup_from", std::int64_t{0});
      tr.losses_from = state.meta.value("losses_from", std::int64_t{0});
      fmt::print("loaded checkpoint {} at step {}\n", ckpt.string(), state.step);
      if (resume && state.step >= cfg.steps)
        fmt::print("the checkpoint already has {} >= --steps {} steps: nothing to train\n", state.step, cfg.steps);
    }
    if (!init_flag.empty()) {
      init_from(init_flag, ucfg, cfg, tr, device);
      state.step = tr.step;  // the exported model's step when there is nothing left to train
    }
    auto save = [&](std::int64_t step) {
      state.step = step;
      state.meta["warmup_from"] = tr.warmup_from;
      state.meta["losses_from"] = tr.losses_from;
      state.meta["schedule"] = cfg.schedule;
      state.meta["T"] = cfg.T;
      state.meta["beta"] = to_vector(s.beta);  // the exact schedule (linear is rescaled when T != 1000)
      state.meta["losses"] = tr.losses;
      dm::nn::save_checkpoint(ckpt, state);
    };

    // ---- train ----
    const auto data = dm::load_fashion_mnist(flags.data_dir, dm::Split::Train);
    const auto images = data.images.to(device);  // [60000, 1, 28, 28] in [-1, 1]
    fmt::print("data: {} training images\n", images.size(0));
    // Fixed noise for training.mp4: its own generator, so previews do not change the training draws.
    const auto fixed_noise = torch::randn({cfg.video_images, 1, 28, 28}, make_gen(flags.seed + 1)).to(device);
    std::unique_ptr<dm::VideoWriter> train_video;
    auto preview = [&](std::int64_t step) {
      auto x = sample(tr.ema, r, fixed_noise, variance, cfg.clip_x0, make_gen(flags.seed + 2));
      auto grid = bgr(dm::make_grid(x.cpu(), 4, 2, 3));
      dm::put_label(grid, fmt::format("step {}", step));
      if (!train_video) train_video = std::make_unique<dm::VideoWriter>(run.file("training.mp4"), 4, grid.size());
      train_video->write(grid);
    };
    dm::train::LoopResult trained{tr.step, false, 0};
    if (!sample_only) {
      dm::train::LoopOptions loop;
      loop.steps = cfg.steps;
      loop.ckpt_every = cfg.ckpt_every;
      loop.preview_every = cfg.video_every;
      loop.stop_after = stop_after;
      loop.nan_advice = fmt::format("lower --lr (now {}) or raise --warmup (now {})", cfg.lr, cfg.warmup);
      trained = train(tr, s, images, cfg, loop, save, preview);
    }
    if (train_video) train_video->close();
    if (trained.interrupted) return 130;
    fmt::print("train wall time = {:.1f} s ({} steps of {} images)\n", trained.seconds, cfg.steps, cfg.batch);
    fmt::print("weights hash: model {:016x}, EMA {:016x} (step {})\n", weights_hash(*tr.model), weights_hash(*tr.ema),
               std::max(state.step, cfg.steps));
    // The EMA weights alone, in the course's tensor format: what chapter 05 samples (any LibTorch reads it).
    dm::nn::save_model_file(run.file(dm::nn::kModelFileName), tr.ema, ucfg,
                            {{"step", std::max(state.step, cfg.steps)},
                             {"schedule", cfg.schedule},
                             {"T", cfg.T},
                             {"beta", to_vector(s.beta)},
                             {"weights", "ema"},
                             {"track", dm::track()}});
    fmt::print("wrote {} (the EMA weights, for chapter 05)\n", run.file(dm::nn::kModelFileName).string());
    if (train_only) return 0;
    if (!tr.losses.empty()) {
      dm::train::plot_losses(tr.losses, run.file("loss.png"), "L_simple during training", "loss (MSE of eps)",
                             tr.losses_from);
      const auto smooth = dm::train::smooth_centred(tr.losses);
      fmt::print("loss: first = {:.4f}, last (centred mean) = {:.4f}\n", tr.losses.front(), smooth.back());
    }

    // ---- sample ----
    const auto t_sample0 = Clock::now();
    auto gen = make_gen(flags.seed + 3);
    std::vector<torch::Tensor> out;
    std::unique_ptr<dm::VideoWriter> denoise;
    const std::int64_t every = std::max<std::int64_t>(1, K / 100);  // ~100 video frames
    dm::Progress sbar("sample", cfg.samples);
    for (std::int64_t done = 0; done < cfg.samples; done += cfg.sample_batch) {
      const auto n = std::min(cfg.sample_batch, cfg.samples - done);
      auto x_T = torch::randn({n, 1, 28, 28}, gen).to(device);
      dm::ch03::SampleCallback on_step;
      if (done == 0) {
        on_step = [&](std::int64_t step, const torch::Tensor& x, const torch::Tensor& x0) {
          if (step % every != 0 && step != 0) return;
          const auto t = r.timesteps[std::size_t(step)];  // the model's timestep of this sampling step
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
                                       [&] { return sample(tr.ema, r, x_T, variance, cfg.clip_x0, gen, on_step); });
      out.push_back(x.clamp(-1, 1).cpu());
      sbar.update(done + n);
    }
    sbar.finish();
    if (denoise) denoise->close();
    const auto samples = torch::cat(out);
    const double sample_s = std::chrono::duration<double>(Clock::now() - t_sample0).count();
    fmt::print("sample wall time = {:.1f} s ({} images x {} steps, {:.1f} images/s)\n", sample_s, cfg.samples, K,
               double(cfg.samples) / sample_s);
    dm::save_png(run.file("samples.png"), dm::make_grid(samples.slice(0, 0, 64), 8, 2, 2));

    // ---- evaluate ----
    const auto t_eval0 = Clock::now();
    const auto report = evaluate(samples, flags, device);
    const double eval_s = std::chrono::duration<double>(Clock::now() - t_eval0).count();
    fmt::print("{}\n", report.summary());
    fmt::print(
        "FID = {:.2f}, 95 % interval [{:.2f}, {:.2f}] (real-vs-real floor {:.2f} [{:.2f}, {:.2f}], n = {}, {} "
        "bootstrap resamples)\n",
        report.fid, report.fid_ci.lo, report.fid_ci.hi, report.fid_floor, report.fid_floor_ci.lo,
        report.fid_floor_ci.hi, report.n, report.resamples);
    std::string hist;
    for (std::size_t c = 0; c < 10; ++c)
      hist += fmt::format("{}{} {:.0f}%", c ? ", " : "", dm::kFashionMnistClasses[c], 100 * report.class_histogram[c]);
    fmt::print("class histogram: {}\n", hist);
    fmt::print("max class fraction = {:.1f}% | mean confidence = {:.3f}\n", 100 * report.max_class_fraction,
               report.mean_confidence);
    fmt::print("eval wall time = {:.1f} s ({} samples, intervals included)\n", eval_s, report.n);
    const auto memo = memorise_check(samples, flags, device, run.file("nearest.png"));

    auto& m = run.metrics();
    m["device"] = device.str();
    m["track"] = dm::track();
    m["quick"] = flags.quick;
    m["unet"] = ucfg.to_json();
    m["parameters"] = tr.model->num_parameters();
    m["schedule"] = cfg.schedule;
    m["T"] = cfg.T;
    m["train"] = {{"steps", cfg.steps},
                  {"batch", cfg.batch},
                  {"lr", cfg.lr},
                  {"warmup", cfg.warmup},
                  {"grad_clip", cfg.grad_clip},
                  {"ema", cfg.ema},
                  {"wall_s", trained.seconds},
                  {"final_loss", tr.losses.empty() ? 0.0 : tr.losses.back()}};
    m["sample"] = {{"n", cfg.samples},         {"steps", K},
                   {"timesteps", r.timesteps}, {"variance", cfg.variance},
                   {"clip_x0", cfg.clip_x0},   {"wall_s", sample_s}};
    m["eval"] = report.to_json();
    m["eval"]["wall_s"] = eval_s;
    m["memorisation"] = memo.to_json();
    m["threads"] = torch::get_num_threads();
    m["checkpoint"] = ckpt.string();
    run.save_metrics();
    fmt::print("wrote {}\n", run.path().string());
    return 0;
  });
}
