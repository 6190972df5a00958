// Chapter 06: guidance. Steering a diffusion model towards a label, on a 2-D toy where everything is
// exact and on Fashion-MNIST with a class-conditional U-Net.
//
//   toy       a 2-D Gaussian mixture whose classes, scores and classifier are exact: classifier guidance
//             (your 06.5) at several scales, sampled by your DDIM (05.3); CFG (06.3, 06.2) on the exact
//             conditional and unconditional eps equals classifier guidance at s = w + 1; the classifier
//             gradient that the pair implies (06.5) against autograd's
//   train     joint conditional / unconditional training (Ho & Salimans 2022, Algorithm 1): chapter 03's
//             train_step (03.6) with your cfg_loss (06.4) and label dropout (06.1), inside the course
//             library's loop (checkpoints, Ctrl-C, the NaN guard, progress); it starts from a model file
//             (--init: the course's conditional reference model in quick mode, chapter 03's unconditional
//             reference model in the full recipe)
//   sweep     classifier-free guidance at each w (your 06.3 in your DDIM sampler): the same noise and
//             labels for every w; FID, KID, precision and recall with their intervals, the class accuracy
//             that the course's evaluation classifier gives, and FID's paired difference against w = 0
//   cg        classifier guidance of chapter 03's unconditional model (classifier_guidance.cpp): a
//             noise-aware classifier trained with your 06.6, its gradient by your 06.7 in eps units by your
//             06.5, inside your DDIM (05.3) and DDPM (03.7) samplers; judged by the evaluation classifier
//   inpaint   inpainting with chapter 03's unconditional model (inpainting.cpp): replacement (your 06.8
//             around your 03.3) and RePaint's jumps back (your 06.9, 06.10, walked by your 06.11), judged by
//             whether the evaluation classifier still sees the original's class
//   text      text prompts through cross-attention (text_prompts.cpp): a text encoder and cross-attention
//             blocks (your 06.12 inside both) trained with your Algorithm 1 on captions whose words your 06.13
//             splits, guided by your 06.3 against the empty prompt; class and attribute accuracy, held-out
//             pairs, attention maps, --prompt
// --parts picks them (default: all five; the sweep of the cfg part is called sweep below).
// Writes
//   runs/06_guidance/toy_guidance.png  toy samples of one class at each classifier-guidance scale
//   runs/06_guidance/loss.png          the training loss
//   runs/06_guidance/grid.png          rows: classes, columns: w (the same noise in every column)
//   runs/06_guidance/tradeoff.png      FID and recall against class accuracy, one point per w
//   runs/06_guidance/model.dmt         the EMA weights (a course tensor file, with p_uncond)
//   runs/06_guidance/ckpt.pt           the checkpoint: --resume
//   runs/06_guidance/metrics.json      hyperparameters, the toy, both sweeps' tables, wall times
//   runs/06_guidance/classifier.dmt, classifier_accuracy.png, cg_grid_ddim.png, cg_grid_ddpm.png, cg_tradeoff.png
//                                      the cg part (classifier_guidance.cpp says what each is)
//   runs/06_guidance/inpaint_strip.png, inpaint_process.png, inpaint_agreement.png
//                                      the inpaint part (inpainting.cpp says what each is)
//   runs/06_guidance/text_model.dmt, text_grid.png, text_accuracy.png, text_attention.png, text_prompts.png,
//   text_video.mp4                     the text part (text_prompts.cpp says what each is)
//
//   build/default/bin/solutions/06_guidance --quick
//   build/default/bin/solutions/06_guidance --sample-only --parts cfg --w 0,1,3   (the conditional reference model)
//   build/default/bin/solutions/06_guidance --sample-only --parts cg --cg-scales 0,4  (the reference classifier)
//   build/default/bin/solutions/06_guidance --parts inpaint --inpaint-masks center --resamplings 1,5
//   build/default/bin/solutions/06_guidance --sample-only --parts text --prompt "a dark sandal" --prompt "a large bag"
#include <fmt/core.h>
#include <torch/torch.h>
#include <CLI/CLI.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <ATen/CPUGeneratorImpl.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "02_forward_noising/schedule.hpp"
#include "03_ddpm/algorithms.hpp"
#include "03_ddpm/ddpm.hpp"
#include "03_ddpm/frechet.hpp"
#include "05_ddim/ddim.hpp"
#include "06_guidance/guidance.hpp"
#include "classifier_guidance.hpp"
#include "dm/cli.hpp"
#include "dm/data/fashion_mnist.hpp"
#include "dm/data/toy2d.hpp"
#include "dm/device.hpp"
#include "dm/errors.hpp"
#include "dm/eval/evaluator.hpp"
#include "dm/image.hpp"
#include "dm/io/reference.hpp"
#include "dm/nn/checkpoint.hpp"
#include "dm/nn/oom.hpp"
#include "dm/nn/unet.hpp"
#include "dm/plot.hpp"
#include "dm/run_dir.hpp"
#include "dm/runtime.hpp"
#include "dm/train/loop.hpp"
#include "inpainting.hpp"
#include "program.hpp"
#include "text_prompts.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using dm::ch06::Convention;
using namespace ch06;  // program.hpp: kClasses, make_gen, schedule_from, balanced_labels, class_accuracy, ...

// ANCHOR: hyperparameters
// ---- hyperparameters (full recipe; --quick values in brackets; each overridable by its flag) ------
struct Config {
  std::string init;               // --init: the model file training starts from [reference/06_guidance/model.dmt]
  bool from_scratch = false;      // --from-scratch: no --init, a fresh U-Net (the recipe's flags below)
  std::int64_t width = 32;        // --width, --res-blocks: the U-Net of a fresh start (an --init file has its own)
  std::int64_t res_blocks = 1;    //
  double p_uncond = 0.1;          // --p-uncond: probability that a training label is dropped (Ho & Salimans: 0.1)
  std::int64_t steps = 2500;      // --steps: optimizer steps of this run [100]
  std::int64_t batch = 64;        // --batch: images per step [32]
  double lr = 5e-4;               // --lr: peak AdamW learning rate [1e-4]
  std::int64_t warmup = 100;      // --warmup: linear LR warmup steps [10]
  double grad_clip = 1.0;         // --grad-clip: max global gradient norm
  double ema = 0.999;             // --ema: max EMA decay [0.99]
  std::int64_t ckpt_every = 250;  // --ckpt-every: steps between checkpoints [100]
  std::vector<double> w = {0, 0.5, 1, 2, 3, 5, 7.5};  // --w: guidance strengths of the sweep [0,3]
  std::string convention = "w";                // --convention: w (Ho & Salimans, 0 = conditional) | scale (s = w + 1)
  std::int64_t samples = 500;                  // --samples: images per w, the same labels (balanced) and noise [200]
  std::int64_t sample_batch = 250;             // --sample-batch: images per sampler call [100]
  std::int64_t sample_steps = 50;              // --sample-steps: DDIM steps (eta = 0, trailing) [25]
  bool clip_x0 = true;                         // --clip-x0 / --no-clip-x0: clip x0_hat to [-1, 1] each step
  std::vector<std::string> classes;            // --classes: names of the classes in grid.png (default: all ten)
  std::vector<double> toy_scales = {0, 1, 4};  // --toy-scales: classifier-guidance scales of the 2-D toy
};
// ANCHOR_END: hyperparameters

// ---- the 2-D toy: exact eps, exact classifier ------------------------------------------------------------

// Chapter 04's mixture of eight Gaussians on a ring; component k is class k. At noise level ab the
// noised class k is N(sqrt(ab) mu_k, v_k I) with v_k = ab s_k^2 + 1 - ab.
struct Toy {
  dm::GaussianMixture2D mix = dm::GaussianMixture2D::ring8();
  // log(w_k N_k(x)) at level ab: [n, K]
  torch::Tensor joint_log(const torch::Tensor& x, double ab) const {
    auto m = mix.means * std::sqrt(ab);                          // [K, 2]
    auto v = mix.stds.pow(2) * ab + (1 - ab);                    // [K]
    auto d2 = (x.unsqueeze(1) - m.unsqueeze(0)).pow(2).sum(-1);  // [n, K]
    return mix.weights.log() - d2 / (2 * v) - (2 * M_PI * v).log();
  }
  // eps of class y (y = K: the unconditional mixture) at level ab: -sqrt(1 - ab) grad log p
  torch::Tensor eps(const torch::Tensor& x, const torch::Tensor& y, double ab) const {
    const auto K = mix.weights.size(0);
    torch::AutoGradMode grad_on(true);  // the samplers run without autograd; the toy's eps is a gradient
    auto xg = x.detach().to(torch::kFloat64).requires_grad_(true);
    auto jl = joint_log(xg, ab);
    auto cond = jl.gather(1, y.clamp_max(K - 1).unsqueeze(1)).squeeze(1);  // log w_y N_y
    auto lp = torch::where(y == K, torch::logsumexp(jl, 1), cond);
    auto g = torch::autograd::grad({lp.sum()}, {xg})[0];
    return (-std::sqrt(1 - ab) * g).to(x.scalar_type());
  }
  // grad_x log p(y | x) by autograd
  torch::Tensor classifier_grad(const torch::Tensor& x, const torch::Tensor& y, double ab) const {
    torch::AutoGradMode grad_on(true);
    auto xg = x.detach().to(torch::kFloat64).requires_grad_(true);
    auto lp = torch::log_softmax(joint_log(xg, ab), 1).gather(1, y.unsqueeze(1)).sum();
    return torch::autograd::grad({lp}, {xg})[0].to(x.scalar_type());
  }
};

// ANCHOR: toy
// Classifier guidance on the toy (your 06.5 inside your DDIM, 05.3) at each scale, all samples asking for
// class 0; then CFG (your 06.3) on the exact pair against classifier guidance at s = w + 1, and the
// implicit classifier (06.5) against autograd's gradient.
nlohmann::json run_toy(const Config& cfg, const torch::Tensor& alpha_bar, const std::filesystem::path& png,
                       std::uint64_t seed) {
  const Toy toy;
  const std::int64_t n = 2000, K = toy.mix.weights.size(0);
  const auto target = torch::zeros({n}, torch::kLong);  // class 0 for every sample
  const auto x_T = torch::randn({n, 2}, make_gen(seed), torch::kFloat64);
  dm::ch05::DdimOptions opt;
  opt.steps = 100;
  std::vector<cv::Mat> panels;
  nlohmann::json rows = nlohmann::json::array();
  fmt::print("\ntoy: 8 Gaussians on a ring, {} samples asking for class 0, DDIM {} steps (eta 0)\n", n, opt.steps);
  const auto mu0 = toy.mix.means[0];
  const auto radial = mu0 / mu0.norm();                      // the unit vector from the centre to mu_0
  const auto along = torch::stack({-radial[1], radial[0]});  // along the ring, at mu_0
  fmt::print("  (class 0: mean at distance {:.1f} from the centre, std {:.2f} in every direction)\n",
             mu0.norm().item<double>(), toy.mix.stds[0].item<double>());
  fmt::print("  scale s   on class 0   mean distance from the centre   std across the ring   std along it\n");
  for (double s : cfg.toy_scales) {
    dm::ch05::EpsFn eps_fn = [&](const torch::Tensor& x, const torch::Tensor& t) {
      const double ab = alpha_bar[t[0].item<std::int64_t>()].item<double>();
      const auto none = torch::full({x.size(0)}, K, torch::kLong);
      return dm::ch06::classifier_guided_eps(toy.eps(x, none, ab), toy.classifier_grad(x, target, ab), ab, s);  // 06.5
    };
    auto x0 = dm::ch05::ddim_sample(dm::ch05::exercise_parts(), eps_fn, alpha_bar, x_T, opt);
    auto nearest = toy.joint_log(x0, 1.0 - 1e-12).argmax(1);
    const double on_class = (nearest == 0).to(torch::kFloat64).mean().item<double>();
    auto mine = x0.index({nearest == 0});                        // [m, 2]
    const auto r = mine.matmul(radial), a = mine.matmul(along);  // coordinates across and along the ring
    const bool some = mine.size(0) > 1;
    const double dist = some ? r.mean().item<double>() : std::nan("");
    const double std_r = some ? r.std().item<double>() : std::nan(""),
                 std_a = some ? a.std().item<double>() : std::nan("");
    fmt::print("  {:7.2f}   {:9.1f}%   {:29.2f}   {:19.3f}   {:12.3f}\n", s, 100 * on_class, dist, std_r, std_a);
    rows.push_back(
        {{"scale", s}, {"on_class", on_class}, {"mean_distance", dist}, {"std_across", std_r}, {"std_along", std_a}});
    dm::Figure fig{fmt::format("classifier guidance, s = {}", s), "x", "y", 420, 420};
    fig.scatter(to_vector(x0.select(1, 0)), to_vector(x0.select(1, 1)), "", dm::Style::points(1, 0.3));
    fig.scatter({mu0[0].item<double>()}, {mu0[1].item<double>()}, "class 0", dm::Style::points(5, 1.0));
    fig.xlim(-6, 6).ylim(-6, 6).equal_aspect();
    panels.push_back(fig.render());
  }
  dm::save_png(png, dm::hstack(panels));

  // CFG at w on the exact eps pair is classifier guidance at s = w + 1 with the exact classifier.
  const auto x = torch::randn({256, 2}, make_gen(seed + 1), torch::kFloat64) * 3;
  const auto y = torch::randint(K, {256}, make_gen(seed + 2), torch::kLong);
  const dm::ch06::CondEpsModel exact = [&](const torch::Tensor& xx, const torch::Tensor& t, const torch::Tensor& yy) {
    return toy.eps(xx, yy, alpha_bar[t[0].item<std::int64_t>()].item<double>());
  };
  double cfg_vs_cg = 0, implicit_err = 0;
  for (std::int64_t t : {100, 400, 700}) {
    const double ab = alpha_bar[t].item<double>();
    const auto tt = torch::full({256}, t, torch::kLong);
    const double w = 2.0;
    auto cfg_eps = dm::ch06::guided_eps(dm::ch06::exercise_parts(), exact, x, tt, y, w, Convention::HoSalimansW, K);
    auto eps_u = toy.eps(x, torch::full({256}, K, torch::kLong), ab);
    auto grad = toy.classifier_grad(x, y, ab);
    auto cg_eps = dm::ch06::classifier_guided_eps(eps_u, grad, ab, w + 1);
    cfg_vs_cg = std::max(cfg_vs_cg, (cfg_eps - cg_eps).abs().max().item<double>());
    auto implied = dm::ch06::implicit_classifier_grad(toy.eps(x, y, ab), eps_u, ab);
    implicit_err = std::max(implicit_err, ((implied - grad).abs().max() / grad.abs().max()).item<double>());
  }
  fmt::print("toy: CFG at w = 2 vs classifier guidance at s = 3: max |eps difference| = {:.2e} (t = 100, 400, 700)\n",
             cfg_vs_cg);
  fmt::print("toy: the classifier gradient implied by eps_c - eps_u vs autograd's: max relative error = {:.2e}\n",
             implicit_err);
  return {{"samples", n},
          {"ddim_steps", opt.steps},
          {"rows", rows},
          {"cfg_vs_classifier_guidance", cfg_vs_cg},
          {"implicit_classifier_error", implicit_err}};
}
// ANCHOR_END: toy

// ---- the conditional U-Net ------------------------------------------------------------------------------

struct Trainee {
  dm::nn::UNet model{nullptr}, ema{nullptr};
  std::unique_ptr<torch::optim::AdamW> opt;
  std::vector<double> losses;
  std::int64_t step = 0;
  dm::nn::UNetConfig ucfg;
  dm::ch02::Schedule s;
  nlohmann::json started_from = nlohmann::json::object();
  double p_uncond = 0;  // the largest label dropout these weights were trained with (0: never saw "no label")
};

// The weights training starts from: a conditional model file (yours or the reference, chapter 06) or an
// unconditional one (chapter 03), whose U-Net gains the label embedding, initialised to add nothing.
nlohmann::json init_from(const std::filesystem::path& file, const std::string& expect_sha256, Trainee& tr,
                         const torch::Device& device) {
  auto loaded = dm::nn::load_model_file(file, device, dm::ch03::sinusoidal_embedding_fn(), expect_sha256);
  tr.ucfg = loaded.config;
  tr.ucfg.num_classes = kClasses;
  tr.model = dm::nn::UNet(tr.ucfg, dm::ch03::sinusoidal_embedding_fn());
  const auto fresh = dm::nn::copy_shared_weights(*loaded.model, *tr.model);
  tr.s = schedule_from(loaded.meta);
  tr.started_from = {{"file", file.string()},
                     {"step", loaded.meta.value("step", std::int64_t{0})},
                     {"conditional", loaded.config.num_classes > 0}};
  fmt::print("started from {} (step {}, {}){}\n", file.string(), tr.started_from["step"].get<std::int64_t>(),
             loaded.config.num_classes > 0 ? "class-conditional" : "unconditional",
             fresh.empty() ? "" : ": the label embedding is new and adds nothing yet");
  return loaded.meta;
}

// ANCHOR: train
// Ho & Salimans' Algorithm 1: chapter 03's training step (03.6) whose loss is your cfg_loss (06.4),
// the label of each image dropped to "no label" with probability p_uncond by your drop_labels (06.1).
dm::train::LoopResult train(Trainee& tr, const dm::ImageDataset& data, const Config& cfg, const torch::Device& device,
                            const dm::train::LoopOptions& loop, const std::function<void(std::int64_t)>& save) {
  const auto images = data.images.to(device);
  const auto labels = data.labels.to(device);
  torch::Tensor y_batch;  // the labels of the minibatch in flight
  dm::ch06::CfgLossParts cparts;
  cparts.eps_theta = [&](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) {
    return tr.model->forward(x, t, y);
  };
  cparts.uniforms = [&](std::int64_t B) { return torch::rand({B}).to(device); };
  cparts.drop_labels = dm::ch06::drop_labels;  // 06.1
  cparts.loss = dm::ch03::l_simple;            // 03.2
  dm::ch03::TrainStepParts parts;
  parts.params = tr.model->parameters();
  parts.loss = [&](const dm::ch02::Schedule& s, const dm::ch03::EpsModel&, const torch::Tensor& x0,
                   const torch::Tensor& t, const torch::Tensor& eps) {
    return dm::ch06::cfg_loss(cparts, s, x0, y_batch, t, eps, cfg.p_uncond, kClasses);  // 06.4
  };
  parts.draws.timesteps = [&](std::int64_t B, std::int64_t T) {
    return torch::randint(T, {B}, torch::kLong).to(device);
  };
  parts.draws.noise = [&](const torch::Tensor& x0) { return torch::randn(x0.sizes()).to(device); };
  parts.zero_grad = [&] { tr.opt->zero_grad(); };
  parts.optimizer_step = [&] { tr.opt->step(); };
  parts.update_ema = [&](std::int64_t step) {
    dm::ch03::ema_update(tr.ema->parameters(), tr.model->parameters(), dm::ch03::ema_decay(step, cfg.ema));
  };
  tr.model->train();
  dm::train::LoopHooks hooks;
  hooks.save = save;
  hooks.step = [&](std::int64_t step) {
    const double lr = cfg.lr * std::min(1.0, double(step + 1) / double(std::max<std::int64_t>(cfg.warmup, 1)));
    for (auto& group : tr.opt->param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    auto idx = torch::randint(images.size(0), {cfg.batch}, torch::kLong).to(device);
    y_batch = labels.index_select(0, idx);
    const auto r = dm::nn::with_oom_advice("the training step", cfg.batch, [&] {
      return dm::ch03::train_step(parts, tr.s, images.index_select(0, idx), step, cfg.grad_clip);  // 03.6
    });
    return dm::train::StepOutcome{r.loss, r.stepped};
  };
  return dm::train::run_training(loop, hooks, tr.step, tr.losses);
}
// ANCHOR_END: train

// ANCHOR: sample
// Classifier-free guidance at strength w (in --convention's units): your guided_eps (06.3) inside your
// DDIM sampler (05.3, eta = 0); x0_hat clipped to [-1, 1] at every step (as chapters 03 and 05 sample).
torch::Tensor sample_guided(dm::nn::UNet& model, const torch::Tensor& alpha_bar, const torch::Tensor& x_T,
                            const torch::Tensor& y, double w, Convention convention, const Config& cfg) {
  const dm::ch06::CondEpsModel eps_theta = [&](const torch::Tensor& x, const torch::Tensor& t,
                                               const torch::Tensor& yy) { return model->forward(x, t, yy); };
  dm::ch05::EpsFn eps_fn = [&](const torch::Tensor& x, const torch::Tensor& t) {
    auto eps = dm::ch06::guided_eps(dm::ch06::exercise_parts(), eps_theta, x, t, y, w, convention, kClasses);
    if (!cfg.clip_x0) return eps;
    const double ab = alpha_bar[t[0].item<std::int64_t>()].item<double>();
    auto x0 = ((x - std::sqrt(1 - ab) * eps) / std::sqrt(ab)).clamp(-1, 1);
    return (x - std::sqrt(ab) * x0) / std::sqrt(1 - ab);
  };
  dm::ch05::DdimOptions opt;
  opt.steps = cfg.sample_steps;
  return dm::ch05::ddim_sample(dm::ch05::exercise_parts(), eps_fn, alpha_bar, x_T, opt);
}
// ANCHOR_END: sample

// What the cfg part needs from the command line besides Config.
struct CfgRun {
  bool resume = false, sample_only = false, train_only = false;
  std::int64_t stop_after = 0;
  std::string init_sha;  // the --init file's expected sha256 (the course's reference), else empty
  std::filesystem::path ckpt;
  Convention convention = Convention::HoSalimansW;
  std::vector<std::int64_t> grid_classes;
};

// Classifier-free guidance on Fashion-MNIST: the conditional U-Net (from a model file, fresh, or the
// checkpoint), trained with your Algorithm 1 (train above), then the sweep over w (sample above) and its
// figures. Writes its metrics into m and the sweep's rows into cfg_points; returns 130 after Ctrl-C.
int run_cfg_part(const Config& cfg, const CfgRun& opt, const dm::CommonFlags& flags, const torch::Device& device,
                 const std::function<const dm::eval::Evaluator&()>& judge, dm::RunDir& run, nlohmann::json& m,
                 std::vector<ch06::TradeoffPoint>& cfg_points, std::string& cfg_source) {
  const bool resume = opt.resume, sample_only = opt.sample_only, train_only = opt.train_only;
  const auto& ckpt = opt.ckpt;
  const auto& grid_classes = opt.grid_classes;
  const auto convention = opt.convention;
  const auto stop_after = opt.stop_after;
  const auto& init_sha = opt.init_sha;

  // ---- the conditional U-Net: from a model file, fresh, or the checkpoint ----
  Trainee tr;
  if (cfg.from_scratch && !resume) {
    tr.ucfg.base_width = cfg.width;
    tr.ucfg.res_blocks_per_level = cfg.res_blocks;
    tr.ucfg.dropout = 0;
    tr.ucfg.groups = std::min<std::int64_t>(8, cfg.width);
    tr.ucfg.num_classes = kClasses;
    tr.ucfg.validate();
    tr.model = dm::nn::UNet(tr.ucfg, dm::ch03::sinusoidal_embedding_fn());
    tr.s = schedule_from(nlohmann::json::object());
  }
  if (resume) {
    tr.ucfg = dm::nn::read_checkpoint_info(ckpt).config;
    tr.model = dm::nn::UNet(tr.ucfg, dm::ch03::sinusoidal_embedding_fn());
  }
  nlohmann::json init_meta = nlohmann::json::object();
  if (!cfg.from_scratch && !resume) init_meta = init_from(cfg.init, init_sha, tr, device);
  tr.ema = dm::nn::UNet(tr.ucfg, dm::ch03::sinusoidal_embedding_fn());
  dm::nn::copy_weights(*tr.model, *tr.ema);
  tr.model->to(device);
  tr.ema->to(device);
  tr.ema->eval();
  tr.opt = std::make_unique<torch::optim::AdamW>(tr.model->parameters(), torch::optim::AdamWOptions(cfg.lr));
  tr.p_uncond = std::max(sample_only ? 0.0 : cfg.p_uncond, init_meta.value("p_uncond", 0.0));
  fmt::print("U-Net: {} | parameters = {}\n", tr.ucfg.describe(), tr.model->num_parameters());
  dm::nn::TrainingState state{tr.model, tr.ema, tr.opt.get(), 0, nlohmann::json::object()};
  if (resume) {
    dm::nn::load_checkpoint(ckpt, state);
    tr.step = state.step;
    tr.losses = state.meta.value("losses", std::vector<double>{});
    tr.started_from = state.meta.value("started_from", nlohmann::json::object());
    tr.s = schedule_from(state.meta);
    tr.p_uncond = std::max(tr.p_uncond, state.meta.value("p_uncond", 0.0));
    fmt::print("loaded checkpoint {} at step {}\n", ckpt.string(), state.step);
  }
  if (sample_only) {  // the file's own label dropout decides whether CFG is possible
    if (!init_meta.contains("p_uncond"))
      throw dm::UserError(
          fmt::format("--sample-only: {} is not a class-conditional model of chapter 06 (it "
                      "has no p_uncond): train one first, without --sample-only",
                      cfg.init));
  }
  auto save = [&](std::int64_t step) {
    state.step = step;
    state.meta["losses"] = tr.losses;
    state.meta["beta"] = to_vector(tr.s.beta);
    state.meta["started_from"] = tr.started_from;
    state.meta["p_uncond"] = tr.p_uncond;
    dm::nn::save_checkpoint(ckpt, state);
  };

  // CFG needs the unconditional model: refuse before anything is trained or sampled
  const bool guides = std::any_of(cfg.w.begin(), cfg.w.end(),
                                  [&](double w) { return convention == Convention::HoSalimansW ? w != 0 : w != 1; });
  if (guides && !train_only && tr.p_uncond <= 0)
    throw dm::UserError(fmt::format(
        "classifier-free guidance needs the unconditional model, and this one never saw 'no label' (trained with "
        "p_uncond = 0 only): train with --p-uncond 0.1, or sweep only the conditional model (--w {})",
        convention == Convention::HoSalimansW ? "0" : "1 --convention scale"));

  // ---- train ----
  dm::train::LoopResult trained{tr.step, false, 0};
  if (!sample_only) {
    const auto data = dm::load_fashion_mnist(flags.data_dir, dm::Split::Train);
    fmt::print("data: {} training images with labels | p_uncond = {}\n", data.images.size(0), cfg.p_uncond);
    dm::train::LoopOptions loop;
    loop.steps = cfg.steps;
    loop.ckpt_every = cfg.ckpt_every;
    loop.stop_after = stop_after;
    loop.nan_advice = fmt::format("lower --lr (now {}) or raise --warmup (now {})", cfg.lr, cfg.warmup);
    trained = train(tr, data, cfg, device, loop, save);
    if (trained.interrupted) return 130;
    fmt::print("train wall time = {:.1f} s (to step {} of {} images)\n", trained.seconds, cfg.steps, cfg.batch);
    if (!tr.losses.empty()) {
      dm::train::plot_losses(tr.losses, run.file("loss.png"), "L_simple with label dropout", "loss (MSE of eps)");
      const auto smooth = dm::train::smooth_centred(tr.losses);
      fmt::print("loss: first = {:.4f}, last (centred mean) = {:.4f}\n", tr.losses.front(), smooth.back());
    }
    const auto here = std::max(trained.done, tr.step);  // steps of this model's chapter 06 training
    const auto total = tr.started_from.value("step", std::int64_t{0}) + here;
    dm::nn::save_model_file(run.file(dm::nn::kModelFileName), tr.ema, tr.ucfg,
                            {{"step", total},
                             {"steps_here", here},
                             {"schedule", "linear"},
                             {"T", tr.s.T()},
                             {"beta", to_vector(tr.s.beta)},
                             {"weights", "ema"},
                             {"p_uncond", tr.p_uncond},
                             {"p_uncond_here", cfg.p_uncond},
                             {"started_from", tr.started_from},
                             {"track", dm::track()}});
    fmt::print("wrote {} (the EMA weights)\n", run.file(dm::nn::kModelFileName).string());
  }
  if (!train_only) {
    // ---- sweep: the same noise and labels at every w ----
    const auto& evaluator = judge();
    const auto y = balanced_labels(cfg.samples).to(device);
    const auto x_T = torch::randn({cfg.samples, 1, 28, 28}, make_gen(flags.seed + 3)).to(device);
    std::vector<torch::Tensor> sets;
    nlohmann::json table = nlohmann::json::array();
    const char* wname = convention == Convention::HoSalimansW ? "w" : "s";
    fmt::print("\nsweep: {} images per {} (the same labels, balanced, and the same noise), DDIM {} steps (eta 0)\n",
               cfg.samples, wname, cfg.sample_steps);
    std::vector<dm::eval::EvalReport> reports;
    std::vector<Accuracy> accs;
    std::vector<double> walls;
    for (double w : cfg.w) {
      const auto t0 = Clock::now();
      sets.push_back(sample_in_batches(cfg.samples, cfg.sample_batch, [&](std::int64_t start, std::int64_t n) {
        return sample_guided(tr.ema, tr.s.alpha_bar, x_T.slice(0, start, start + n), y.slice(0, start, start + n), w,
                             convention, cfg);
      }));
      walls.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      reports.push_back(evaluator.evaluate(sets.back()));
      accs.push_back(class_accuracy(evaluator, sets.back(), y));
      fmt::print("{} = {:g}: {} | class accuracy {:.3f} [{:.3f}, {:.3f}] ({:.0f} s)\n", wname, w,
                 reports.back().summary(), accs.back().value, accs.back().lo, accs.back().hi, walls.back());
    }
    // ANCHOR: table
    fmt::print("\n{:>5}  {:>21}  {:>24}  {:>17}  {:>17}  {:>21}  {:>5}  {:>22}\n", wname, "FID [95 %]", "KID [95 %]",
               "precision", "recall", "class accuracy", "conf.", "FID - FID(first) [95 %]");
    for (std::size_t i = 0; i < cfg.w.size(); ++i) {
      const auto& r = reports[i];
      const auto& a = accs[i];
      std::string diff = "-";
      nlohmann::json d;
      if (i > 0) {
        const auto e = evaluator.fid_difference(sets[i], sets[0]);
        diff = fmt::format("{:+.2f} [{:+.2f}, {:+.2f}]", e.value, e.ci.lo, e.ci.hi);
        d = {{"value", e.value}, {"ci", {e.ci.lo, e.ci.hi}}};
      }
      fmt::print(
          "{:>5g}  {:6.2f} [{:6.2f}, {:6.2f}]  {:.4f} [{:.4f}, {:.4f}]  {:.2f} [{:.2f}, {:.2f}]  "
          "{:.2f} [{:.2f}, {:.2f}]  {:.3f} [{:.3f}, {:.3f}]  {:.2f}  {:>22}\n",
          cfg.w[i], r.fid, r.fid_ci.lo, r.fid_ci.hi, r.kid, r.kid_ci.lo, r.kid_ci.hi, r.precision, r.precision_ci.lo,
          r.precision_ci.hi, r.recall, r.recall_ci.lo, r.recall_ci.hi, a.value, a.lo, a.hi, a.confidence, diff);
      table.push_back({{"strength", cfg.w[i]},
                       {"w", convention == Convention::HoSalimansW ? cfg.w[i] : cfg.w[i] - 1},
                       {"eval", r.to_json()},
                       {"accuracy", a.value},
                       {"accuracy_ci", {a.lo, a.hi}},
                       {"mean_confidence", a.confidence},
                       {"fid_minus_first", d},
                       {"wall_s", walls[i]}});
    }
    fmt::print(
        "(n = {} per row; FID floor at this n: {:.2f} [{:.2f}, {:.2f}]; accuracy: the course's evaluation "
        "classifier, {:.1f} % on the test set, agrees with the label asked for; a difference whose interval "
        "holds 0 is not one)\n",
        cfg.samples, reports[0].fid_floor, reports[0].fid_floor_ci.lo, reports[0].fid_floor_ci.hi,
        100 * evaluator.classifier_accuracy());
    // ANCHOR_END: table

    // grid.png: rows classes, columns w (the first sample of each class: the same noise along a row)
    std::vector<cv::Mat> columns;
    std::vector<std::string> captions;
    for (std::size_t i = 0; i < sets.size(); ++i) {
      std::vector<torch::Tensor> cells;
      for (auto c : grid_classes) cells.push_back(sets[i][c < cfg.samples ? c : 0]);  // sample c asks for class c
      columns.push_back(dm::make_grid(torch::stack(cells), 1, 2, 3));
      captions.push_back(fmt::format("{} = {:g}", wname, cfg.w[i]));
    }
    dm::save_png(run.file("grid.png"), dm::labelled_strip(columns, captions));
    // tradeoff.png: FID and recall against accuracy, one point per w
    dm::Figure f1{"FID against class accuracy", "class accuracy", "FID"};
    dm::Figure f2{"recall against class accuracy", "class accuracy", "recall"};
    for (std::size_t i = 0; i < cfg.w.size(); ++i) {
      const auto label = fmt::format("{} = {:g}", wname, cfg.w[i]);
      f1.scatter({accs[i].value}, {reports[i].fid}, label, dm::Style::points(5, 1.0))
          .errors({reports[i].fid_ci.lo}, {reports[i].fid_ci.hi});
      f2.scatter({accs[i].value}, {reports[i].recall}, label, dm::Style::points(5, 1.0))
          .errors({reports[i].recall_ci.lo}, {reports[i].recall_ci.hi});
    }
    dm::save_png(run.file("tradeoff.png"), dm::hstack({f1.render(), f2.render()}));
    m["sweep"] = {{"convention", cfg.convention},
                  {"n", cfg.samples},
                  {"ddim_steps", cfg.sample_steps},
                  {"clip_x0", cfg.clip_x0},
                  {"rows", table}};
    cfg_points = ch06::tradeoff_points(table, fmt::format("CFG: {}", wname));
    cfg_source = fmt::format("this run, n = {}", cfg.samples);
  }  // !train_only
  m["unet"] = tr.ucfg.to_json();
  m["parameters"] = tr.model->num_parameters();
  m["started_from"] = tr.started_from;
  m["train"] = {{"steps", sample_only ? 0 : cfg.steps},
                {"batch", cfg.batch},
                {"lr", cfg.lr},
                {"p_uncond", tr.p_uncond},
                {"ema", cfg.ema},
                {"wall_s", trained.seconds}};
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Chapter 06: guidance (classifier guidance on a 2-D toy and on Fashion-MNIST, classifier-free guidance, "
      "inpainting by replacement and RePaint, text prompts through cross-attention)"};
  dm::CommonFlags flags{"06_guidance"};
  dm::add_common_flags(app, flags);
  Config cfg;
  bool resume = false, sample_only = false, train_only = false;
  std::int64_t stop_after = 0;
  std::string ckpt_flag;
  const auto positive = CLI::PositiveNumber;
  const auto max_i64 = std::numeric_limits<std::int64_t>::max();
  const double kInf = std::numeric_limits<double>::infinity();
  std::map<std::string, CLI::Option*> set_by_user;
  set_by_user["init"] = app.add_option("--init", cfg.init,
                                       "the model file training starts from: a class-conditional one (chapter 06) or "
                                       "an unconditional one (chapter 03: it gains a label embedding)")
                            ->check(CLI::ExistingFile);
  app.add_flag("--from-scratch", cfg.from_scratch, "start from a fresh U-Net (--width, --res-blocks)")
      ->excludes(set_by_user["init"]);
  app.add_option("--width", cfg.width, "channels of the first U-Net level (--from-scratch)")->check(positive);
  app.add_option("--res-blocks", cfg.res_blocks, "ResBlocks per level (--from-scratch)")->check(positive);
  app.add_option("--p-uncond", cfg.p_uncond, "probability of dropping a training label")
      ->check(dm::half_open(0, std::nextafter(1.0, 2.0)));  // [0, 1], and not NaN
  set_by_user["steps"] = app.add_option("--steps", cfg.steps, "optimizer steps of this run")->check(positive);
  set_by_user["batch"] = app.add_option("--batch", cfg.batch, "images per training step")->check(positive);
  set_by_user["lr"] = app.add_option("--lr", cfg.lr, "peak learning rate")->check(positive);
  set_by_user["warmup"] = app.add_option("--warmup", cfg.warmup, "linear warmup steps")->check(CLI::NonNegativeNumber);
  app.add_option("--grad-clip", cfg.grad_clip, "max global gradient norm")->check(positive);
  set_by_user["ema"] = app.add_option("--ema", cfg.ema, "max EMA decay")->check(dm::half_open(0, 1));
  set_by_user["ckpt-every"] =
      app.add_option("--ckpt-every", cfg.ckpt_every, "steps between checkpoints")->check(positive);
  set_by_user["w"] = app.add_option("--w", cfg.w, "guidance strengths of the sweep, e.g. 0,1,3 (in --convention)")
                         ->delimiter(',')
                         ->check(dm::half_open(0, kInf));  // finite, >= 0 (NaN refused)
  app.add_option("--convention", cfg.convention,
                 "units of --w: w (Ho & Salimans: 0 = the conditional model) or scale (diffusers' guidance_scale "
                 "= w + 1: 1 = the conditional model)")
      ->check(CLI::IsMember({"w", "scale"}));
  set_by_user["samples"] =
      app.add_option("--samples", cfg.samples, "images per w (>= 10)")->check(CLI::Range(std::int64_t{10}, max_i64));
  set_by_user["sample-batch"] =
      app.add_option("--sample-batch", cfg.sample_batch, "images per sampler call")->check(positive);
  set_by_user["sample-steps"] =
      app.add_option("--sample-steps", cfg.sample_steps, "DDIM steps of sampling")->check(positive);
  app.add_flag("--clip-x0,!--no-clip-x0", cfg.clip_x0, "clip x0_hat to [-1, 1] at every step");
  app.add_option("--classes", cfg.classes, "classes in grid.png, by name (e.g. Trouser,Bag)")->delimiter(',');
  app.add_option("--toy-scales", cfg.toy_scales, "classifier-guidance scales of the 2-D toy")
      ->delimiter(',')
      ->check(dm::half_open(0, kInf));
  auto* resume_opt = app.add_flag("--resume", resume, "continue from the checkpoint (runs/06_guidance/ckpt.pt)");
  resume_opt->excludes(set_by_user["init"]);  // the checkpoint holds its own weights
  app.add_flag("--sample-only", sample_only,
               "train nothing: sweep the --init model (default: the course's conditional reference model) and "
               "guide with the --classifier as it is (default: the course's reference classifier)")
      ->excludes(resume_opt);
  app.add_flag("--train-only", train_only, "stop after training (no sweep)");
  app.add_option("--ckpt", ckpt_flag, "checkpoint path (default: <out>/06_guidance/ckpt.pt)");
  app.add_option("--stop-after", stop_after, "act as if Ctrl-C came after this many steps (tests)")->group("");
  // ---- which parts run, and classifier guidance's own flags (classifier_guidance.hpp) ----
  std::vector<std::string> parts = {"toy", "cfg", "cg", "inpaint", "text"};
  app.add_option("--parts", parts,
                 "what runs: toy (the 2-D mixture), cfg (classifier-free guidance: train, sweep), cg (classifier "
                 "guidance of chapter 03's model: train the noise-aware classifier, sweep), inpaint (inpainting "
                 "with chapter 03's model: replacement and RePaint), text (text prompts through cross-attention: "
                 "train, evaluate, --prompt)")
      ->delimiter(',')
      ->check(CLI::IsMember({"toy", "cfg", "cg", "inpaint", "text"}));
  ch06::CgConfig cg;
  app.add_option("--unconditional", cg.unconditional,
                 "the unconditional model that classifier guidance steers and inpainting fills in (default: "
                 "chapter 03's reference model)")
      ->check(CLI::ExistingFile);
  set_by_user["classifier"] =
      app.add_option("--classifier", cg.classifier,
                     "the noise-aware classifier to start from, or to use with --classifier-steps 0 (a "
                     "classifier.dmt this program wrote; default: the course's reference in quick mode and with "
                     "--sample-only, a fresh one in the full recipe)")
          ->check(CLI::ExistingFile);
  set_by_user["classifier-steps"] = app.add_option("--classifier-steps", cg.classifier_steps,
                                                   "training steps of the noise-aware classifier (0: use it as it is)")
                                        ->check(CLI::NonNegativeNumber);
  set_by_user["classifier-batch"] =
      app.add_option("--classifier-batch", cg.classifier_batch, "images per classifier step")->check(positive);
  set_by_user["classifier-lr"] =
      app.add_option("--classifier-lr", cg.classifier_lr, "peak learning rate of the classifier")->check(positive);
  set_by_user["classifier-warmup"] =
      app.add_option("--classifier-warmup", cg.classifier_warmup, "linear warmup steps of the classifier")
          ->check(CLI::NonNegativeNumber);
  set_by_user["cg-scales"] = app.add_option("--cg-scales", cg.scales, "classifier-guidance scales s, e.g. 0,1,4")
                                 ->delimiter(',')
                                 ->check(dm::half_open(0, kInf));
  app.add_option("--cg-samplers", cg.samplers, "samplers of the classifier-guidance sweep: ddim, ddpm or both")
      ->delimiter(',')
      ->check(CLI::IsMember({"ddim", "ddpm"}));
  set_by_user["cg-ddpm-steps"] =
      app.add_option("--cg-ddpm-steps", cg.ddpm_steps, "DDPM's respaced sampling steps (1..T)")->check(positive);
  set_by_user["cg-accuracy-images"] =
      app.add_option("--cg-accuracy-images", cg.accuracy_images, "test images behind accuracy against t")
          ->check(positive);
  ch06::InpaintConfig inp;
  set_by_user["inpaint-masks"] =
      app.add_option("--inpaint-masks", inp.masks, "the hidden regions to inpaint, e.g. center,bottom")->delimiter(',');
  set_by_user["inpaint-images"] =
      app.add_option("--inpaint-images", inp.images, "test images inpainted per mask")->check(positive);
  set_by_user["inpaint-batch"] =
      app.add_option("--inpaint-batch", inp.batch, "images per inpainting sampler call")->check(positive);
  set_by_user["inpaint-steps"] =
      app.add_option("--inpaint-steps", inp.steps, "reverse steps of inpainting (03's respacing, 1..T)")
          ->check(positive);
  set_by_user["jump"] = app.add_option("--jump", inp.jump, "levels per jump back (RePaint's j)")->check(positive);
  set_by_user["resamplings"] =
      app.add_option("--resamplings", inp.resamplings,
                     "RePaint's r of the sweep, e.g. 1,5 (1: replacement; each stretch walked r times)")
          ->delimiter(',')
          ->check(positive);
  ch06::TextConfig txt;
  app.add_option("--text-init", txt.init,
                 "the model the text part starts from: chapter 03's unconditional model (it gains a text encoder) "
                 "or a text_model.dmt of this part (default: the course's text reference in quick mode and with "
                 "--sample-only, chapter 03's reference in the full recipe)")
      ->check(CLI::ExistingFile);
  set_by_user["text-steps"] =
      app.add_option("--text-steps", txt.steps, "training steps of the text model")->check(positive);
  set_by_user["text-batch"] = app.add_option("--text-batch", txt.batch, "images per text step")->check(positive);
  set_by_user["text-lr"] = app.add_option("--text-lr", txt.lr, "peak learning rate of the text model")->check(positive);
  app.add_option("--p-word", txt.p_word, "probability that a training caption names each attribute")
      ->check(dm::half_open(0, std::nextafter(1.0, 2.0)));
  app.add_option("--held-out", txt.held_out,
                 "(attribute, class) pairs no caption names together, e.g. \"light sandal,small coat\"")
      ->delimiter(',');
  set_by_user["text-w"] = app.add_option("--text-w", txt.w, "guidance strengths w of the text evaluation")
                              ->delimiter(',')
                              ->check(dm::half_open(0, kInf));
  set_by_user["text-samples"] =
      app.add_option("--text-samples", txt.per_prompt, "images per prompt of the text evaluation (40 prompts)")
          ->check(positive);
  app.add_option("--prompt", txt.prompts, "a prompt for text_prompts.png and the video (repeat the flag for more)");
  app.add_option("--prompt-w", txt.prompt_w, "guidance strength w of the --prompt images")
      ->check(dm::half_open(0, kInf));
  set_by_user["prompt-samples"] =
      app.add_option("--prompt-samples", txt.prompt_samples, "images per --prompt")->check(positive);
  app.add_option("--attention-prompt", txt.attention_prompt, "the prompt whose attention maps are drawn");

  return dm::run_main(app, argc, argv, [&] {
    const auto t_start = Clock::now();
    if (flags.quick) {
      auto quick = [&](const char* name, auto& field, auto value) {
        if (set_by_user.at(name)->count() == 0) field = value;
      };
      quick("steps", cfg.steps, std::int64_t{100});
      quick("batch", cfg.batch, std::int64_t{32});
      quick("lr", cfg.lr, 1e-4);
      quick("warmup", cfg.warmup, std::int64_t{10});
      quick("ema", cfg.ema, 0.99);
      quick("ckpt-every", cfg.ckpt_every, std::int64_t{100});
      quick("w", cfg.w, std::vector<double>{0, 3});
      quick("samples", cfg.samples, std::int64_t{200});
      quick("sample-batch", cfg.sample_batch, std::int64_t{100});
      quick("sample-steps", cfg.sample_steps, std::int64_t{25});
      quick("classifier-steps", cg.classifier_steps, std::int64_t{100});
      quick("classifier-batch", cg.classifier_batch, std::int64_t{64});
      quick("classifier-lr", cg.classifier_lr, 1e-4);
      quick("classifier-warmup", cg.classifier_warmup, std::int64_t{10});
      quick("cg-scales", cg.scales, std::vector<double>{0, 4});
      quick("cg-ddpm-steps", cg.ddpm_steps, std::int64_t{50});
      quick("cg-accuracy-images", cg.accuracy_images, std::int64_t{500});
      quick("inpaint-masks", inp.masks, std::vector<std::string>{"bottom"});
      quick("inpaint-images", inp.images, std::int64_t{40});
      quick("inpaint-batch", inp.batch, std::int64_t{40});
      quick("inpaint-steps", inp.steps, std::int64_t{50});
      quick("jump", inp.jump, std::int64_t{5});
      quick("resamplings", inp.resamplings, std::vector<std::int64_t>{1, 4});
      quick("text-steps", txt.steps, std::int64_t{20});
      quick("text-batch", txt.batch, std::int64_t{16});
      quick("text-lr", txt.lr, 1e-4);
      quick("text-w", txt.w, std::vector<double>{0, 3});
      quick("text-samples", txt.per_prompt, std::int64_t{1});
      quick("prompt-samples", txt.prompt_samples, std::int64_t{4});
    }
    auto has = [&](const char* part) { return std::find(parts.begin(), parts.end(), part) != parts.end(); };
    const auto convention = dm::ch06::parse_convention(cfg.convention);
    std::vector<std::int64_t> grid_classes;
    for (const auto& name : cfg.classes) grid_classes.push_back(class_index(name));
    if (grid_classes.empty())
      for (std::int64_t c = 0; c < kClasses; ++c) grid_classes.push_back(c);
    // Where training starts: --init, or by default the course's conditional reference model (quick mode,
    // --sample-only) or chapter 03's unconditional reference model (the full recipe).
    if (sample_only && cfg.from_scratch)
      throw dm::UsageError("--sample-only samples a trained model: pass --init FILE (or nothing, for the reference)");
    std::string init_sha;
    if (has("cfg") && !cfg.from_scratch && !resume && cfg.init.empty()) {
      const auto ref06 = dm::io::reference_path("06_guidance/model.dmt");
      const auto ref03 = dm::io::reference_path("03_ddpm/model.dmt");
      const auto ref = (flags.quick || sample_only) && std::filesystem::exists(ref06) ? ref06 : ref03;
      cfg.init = dm::io::shown_path(ref);
      init_sha = dm::io::reference_sha256(ref);
      fmt::print("starting from the course's reference model {} (reference/README.md)\n", cfg.init);
    }

    if (has("inpaint")) {  // refused before any part runs
      for (const auto& name : inp.masks) ch06::inpaint_mask(name);
      if (inp.masks.empty()) throw dm::UsageError("--inpaint-masks: name at least one mask");
      if (inp.resamplings.empty()) throw dm::UsageError("--resamplings: give at least one r (1: replacement)");
      const bool jumps = *std::max_element(inp.resamplings.begin(), inp.resamplings.end()) > 1;
      if (jumps && inp.jump >= inp.steps)
        throw dm::UsageError(
            fmt::format("--jump {}: with --inpaint-steps {} the levels are 0..{}, so a jump back is at most {} levels",
                        inp.jump, inp.steps, inp.steps - 1, inp.steps - 1));
    }
    if (resume && !has("cfg") && !has("text"))
      throw dm::UsageError(
          "--resume continues the conditional U-Net's training (with cfg in --parts) or, without cfg, the text "
          "model's: add cfg or text to --parts");
    if (has("text")) {  // refused before any part runs: unknown words, prompts too long, bad pairs
      ch06::check_text_config(txt);
      if (txt.init.empty() && !(resume && !has("cfg"))) {
        const auto ref_text = dm::io::reference_path("06_guidance/text_model.dmt");
        const auto ref = (flags.quick || sample_only) && std::filesystem::exists(ref_text)
                             ? ref_text
                             : dm::io::reference_path("03_ddpm/model.dmt");
        txt.init = dm::io::shown_path(ref);
        txt.init_sha256 = dm::io::reference_sha256(ref);
      }
    }
    if ((has("cg") || has("inpaint")) && cg.unconditional.empty()) {  // chapter 03's reference model
      const auto ref = dm::io::reference_path("03_ddpm/model.dmt");
      cg.unconditional = dm::io::shown_path(ref);
      cg.unconditional_sha256 = dm::io::reference_sha256(ref);
    }
    if (has("cg")) {  // classifier guidance: chapter 03's model, and a noise-aware classifier to start from
      const auto ref_clf = dm::io::reference_path("06_guidance/classifier.dmt");
      if (cg.classifier.empty() && (flags.quick || sample_only) && std::filesystem::exists(ref_clf)) {
        cg.classifier = dm::io::shown_path(ref_clf);
        cg.classifier_sha256 = dm::io::reference_sha256(ref_clf);
      }
      if (sample_only) {
        if (set_by_user.at("classifier-steps")->count() > 0 && cg.classifier_steps > 0)
          throw dm::UsageError("--sample-only trains nothing: leave out --classifier-steps (or pass 0)");
        if (cg.classifier.empty())
          throw dm::UserError(
              "--sample-only: no noise-aware classifier to guide with: pass --classifier FILE (the classifier.dmt "
              "a run of this program wrote), or run without --sample-only to train one");
        cg.classifier_steps = 0;
      }
    }

    dm::init_runtime(flags);
    const auto device = dm::pick_device(flags.device);
    dm::RunDir run(flags.out_root, flags.chapter);
    const std::filesystem::path ckpt =
        ckpt_flag.empty() ? run.file(dm::nn::kDefaultCheckpointName) : std::filesystem::path(ckpt_flag);
    fmt::print("device = {} | track = {}\n", device.str(), dm::track());
    auto& m = run.metrics();

    // ---- the 2-D toy ----
    if (has("toy")) {
      const auto toy_schedule = dm::ch02::make_schedule(dm::ch02::linear_beta_schedule(1000, 1e-4, 0.02));
      m["toy"] = run_toy(cfg, toy_schedule.alpha_bar, run.file("toy_guidance.png"), flags.seed);
    }
    std::optional<dm::eval::Evaluator> evaluator_once;  // built once, for the first sweep
    auto judge = [&]() -> const dm::eval::Evaluator& {
      if (!evaluator_once) {
        evaluator_once.emplace(dm::eval::chapter_eval_options(flags.out_root, flags.data_dir, device, flags.quick,
                                                              dm::ch03::frechet_distance));  // 03.5
      }
      return *evaluator_once;
    };
    std::vector<ch06::TradeoffPoint> cfg_points;  // classifier-free guidance's rows, for cg_tradeoff.png
    std::string cfg_source;
    if (has("cfg")) {
      const CfgRun opt{resume, sample_only, train_only, stop_after, init_sha, ckpt, convention, grid_classes};
      if (run_cfg_part(cfg, opt, flags, device, judge, run, m, cfg_points, cfg_source) == 130) return 130;
    }

    // ---- classifier guidance of chapter 03's unconditional model ----
    if (has("cg")) {
      if (cfg_points.empty()) {  // no CFG sweep in this run: the reference run's, as recorded
        const auto ref_json = dm::io::reference_path("06_guidance/model.json");
        if (std::filesystem::exists(ref_json)) {
          std::ifstream in(ref_json);
          const auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
          if (j.is_object() && j.contains("sweep") && j["sweep"].contains("rows")) {
            cfg_points = ch06::tradeoff_points(j["sweep"]["rows"], "CFG: w");
            cfg_source = fmt::format("the reference run, n = {}", j["sweep"].value("n", 0));
          }
        }
      }
      ch06::SweepSettings sw;
      sw.samples = cfg.samples;
      sw.sample_batch = cfg.sample_batch;
      sw.sample_steps = cfg.sample_steps;
      sw.clip_x0 = cfg.clip_x0;
      sw.grid_classes = grid_classes;
      if (train_only) cg.scales.clear(), cg.samplers.clear();
      bool interrupted = false;
      m["classifier_guidance"] = ch06::run_classifier_guidance(cg, sw, flags, device, judge(), run, stop_after,
                                                               cfg_points, cfg_source, interrupted);
      if (interrupted) return 130;
    }

    // ---- inpainting with chapter 03's unconditional model ----
    if (has("inpaint") && !train_only) {
      inp.unconditional = cg.unconditional;
      inp.unconditional_sha256 = cg.unconditional_sha256;
      m["inpainting"] = ch06::run_inpainting(inp, flags, device, judge(), run);
    }

    // ---- text prompts through cross-attention ----
    if (has("text")) {
      txt.warmup = cfg.warmup;
      txt.grad_clip = cfg.grad_clip;
      txt.ema = cfg.ema;
      txt.ckpt_every = cfg.ckpt_every;
      txt.p_uncond = cfg.p_uncond;
      txt.sample_batch = cfg.sample_batch;
      txt.sample_steps = cfg.sample_steps;
      const ch06::TextRun topt{sample_only, train_only, resume && !has("cfg"), stop_after};
      bool interrupted = false;
      m["text"] = ch06::run_text_prompts(txt, topt, flags, device, judge, run, interrupted);
      if (interrupted) return 130;
    }
    m["device"] = device.str();
    m["track"] = dm::track();
    m["quick"] = flags.quick;
    m["parts"] = parts;
    m["threads"] = torch::get_num_threads();
    m["wall_s"] = std::chrono::duration<double>(Clock::now() - t_start).count();
    run.save_metrics();
    fmt::print("wrote {} ({:.1f} s in all)\n", run.path().string(), m["wall_s"].get<double>());
    return 0;
  });
}
