// Chapter 06, part 2: classifier guidance of chapter 03's unconditional model (classifier_guidance.hpp).
//
//   classifier   a noise-aware classifier p_phi(y | x_t, t): chapter 03's train_step (03.6) whose loss is
//                your classifier_loss (06.6) on images noised by your q_sample (02.3), inside the course
//                library's loop; its accuracy against t, beside the evaluation classifier's on the same x_t
//   sweep        classifier guidance at each scale s: eps_theta(x_t, t) shifted by your 06.5 along your
//                06.7's gradient, in your DDIM (05.3) and your DDPM (03.7, respaced by 03's respace); the
//                same noise and labels at every s. Judged by the evaluation classifier (separate weights,
//                clean images), never by the classifier that guides; how often the two disagree
// Writes (in runs/06_guidance/)
//   classifier.dmt            the noise-aware classifier (a course tensor file; --classifier takes it)
//   classifier_loss.png       its training loss
//   classifier_accuracy.png   accuracy against t: the noise-aware classifier and the evaluation classifier
//   cg_grid_ddim.png, cg_grid_ddpm.png   rows: classes, columns: s (the same noise in every column)
//   cg_tradeoff.png           FID and recall against class accuracy: classifier guidance beside CFG
#include "classifier_guidance.hpp"

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <torch/torch.h>
#include <opencv2/core.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>

#include "02_forward_noising/forward.hpp"
#include "03_ddpm/algorithms.hpp"
#include "03_ddpm/ddpm.hpp"
#include "03_ddpm/respace.hpp"
#include "05_ddim/ddim.hpp"
#include "06_guidance/guidance.hpp"
#include "dm/data/fashion_mnist.hpp"
#include "dm/errors.hpp"
#include "dm/eval/classifier.hpp"
#include "dm/image.hpp"
#include "dm/io/reference.hpp"
#include "dm/nn/checkpoint.hpp"
#include "dm/nn/noisy_classifier.hpp"
#include "dm/nn/oom.hpp"
#include "dm/nn/unet.hpp"
#include "dm/plot.hpp"
#include "dm/runtime.hpp"
#include "dm/train/loop.hpp"
#include "program.hpp"

namespace ch06 {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// ANCHOR: train_classifier
// The noise-aware classifier's training: chapter 03's step (03.6) with your classifier_loss (06.6) as its
// objective: each image noised to its own uniform t by your q_sample (02.3), the cross-entropy of
// p_phi(y | x_t, t) against its label. No EMA: the classifier is used as trained.
dm::train::LoopResult train_classifier(dm::nn::NoisyClassifier& clf, torch::optim::AdamW& opt,
                                       const dm::ch02::Schedule& s, const dm::ImageDataset& data, const CgConfig& cfg,
                                       const torch::Device& device, const dm::train::LoopOptions& loop,
                                       std::vector<double>& losses, const std::function<void(std::int64_t)>& save) {
  const auto images = data.images.to(device);
  const auto labels = data.labels.to(device);
  torch::Tensor y_batch;  // the labels of the minibatch in flight
  dm::ch06::ClassifierLossParts cparts;
  cparts.classifier = [&](const torch::Tensor& x_t, const torch::Tensor& t) { return clf->forward(x_t, t); };
  cparts.q_sample = dm::ch02::q_sample;  // 02.3
  dm::ch03::TrainStepParts parts;
  parts.params = clf->parameters();
  parts.loss = [&](const dm::ch02::Schedule& sched, const dm::ch03::EpsModel&, const torch::Tensor& x0,
                   const torch::Tensor& t, const torch::Tensor& eps) {
    return dm::ch06::classifier_loss(cparts, sched, x0, y_batch, t, eps);  // 06.6
  };
  parts.draws.timesteps = [&](std::int64_t B, std::int64_t T) {
    return torch::randint(T, {B}, torch::kLong).to(device);
  };
  parts.draws.noise = [&](const torch::Tensor& x0) { return torch::randn(x0.sizes()).to(device); };
  parts.zero_grad = [&] { opt.zero_grad(); };
  parts.optimizer_step = [&] { opt.step(); };
  parts.update_ema = [](std::int64_t) {};
  clf->train();
  dm::train::LoopHooks hooks;
  hooks.save = save;
  hooks.step = [&](std::int64_t step) {
    const double lr =
        cfg.classifier_lr * std::min(1.0, double(step + 1) / double(std::max<std::int64_t>(cfg.classifier_warmup, 1)));
    for (auto& group : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    auto idx = torch::randint(images.size(0), {cfg.classifier_batch}, torch::kLong).to(device);
    y_batch = labels.index_select(0, idx);
    const auto r = dm::nn::with_oom_advice("the classifier's training step", cfg.classifier_batch, [&] {
      return dm::ch03::train_step(parts, s, images.index_select(0, idx), step, 1.0);  // 03.6
    });
    return dm::train::StepOutcome{r.loss, r.stepped};
  };
  auto r = dm::train::run_training(loop, hooks, 0, losses);
  clf->eval();
  return r;
}
// ANCHOR_END: train_classifier

// ANCHOR: guided_eps_fn
// eps of the unconditional model shifted by classifier guidance at scale s (Dhariwal & Nichol, Algorithm 2):
// your 06.7 asks the noise-aware classifier for grad log p_phi(y | x_t, t), your 06.5 turns it into eps units.
// x0_hat is clipped to [-1, 1] at every step, as the other samplers of the course do.
dm::ch03::EpsModel guided_eps_fn(dm::nn::UNet& model, dm::nn::NoisyClassifier& clf, const torch::Tensor& alpha_bar,
                                 const torch::Tensor& y, double scale, bool clip_x0) {
  return [&model, &clf, alpha_bar, y, scale, clip_x0](const torch::Tensor& x, const torch::Tensor& t) {
    const double ab = alpha_bar[t[0].item<std::int64_t>()].item<double>();
    auto eps = model->forward(x, t);
    if (scale != 0) {
      const dm::ch06::ClassifierFn classifier = [&](const torch::Tensor& xx, const torch::Tensor& tt) {
        return clf->forward(xx, tt);
      };
      const auto grad = dm::ch06::classifier_log_prob_grad(classifier, x, t, y);  // 06.7
      eps = dm::ch06::classifier_guided_eps(eps, grad, ab, scale);                // 06.5
    }
    if (!clip_x0) return eps;
    auto x0 = ((x - std::sqrt(1 - ab) * eps) / std::sqrt(ab)).clamp(-1, 1);
    return (x - std::sqrt(ab) * x0) / std::sqrt(1 - ab);
  };
}
// ANCHOR_END: guided_eps_fn

// ANCHOR: cg_sample
// One batch of classifier-guided samples with your DDIM (05.3, eta = 0) or your DDPM (03.7, on 03's
// respaced schedule: the network and the classifier are asked at the original timesteps).
torch::Tensor sample_classifier_guided(const std::string& sampler, dm::nn::UNet& model, dm::nn::NoisyClassifier& clf,
                                       const dm::ch02::Schedule& s, const torch::Tensor& x_T, const torch::Tensor& y,
                                       double scale, const SweepSettings& sw, std::int64_t ddpm_steps,
                                       std::uint64_t noise_seed) {
  const auto eps_fn = guided_eps_fn(model, clf, s.alpha_bar, y, scale, sw.clip_x0);
  if (sampler == "ddim") {
    dm::ch05::DdimOptions opt;
    opt.steps = sw.sample_steps;
    return dm::ch05::ddim_sample(dm::ch05::exercise_parts(), eps_fn, s.alpha_bar, x_T, opt);
  }
  const auto r = dm::ch03::respace(s, ddpm_steps);
  auto gen = make_gen(noise_seed);
  auto step = [&](const torch::Tensor& x, std::int64_t k, const torch::Tensor& eps, const torch::Tensor& z) {
    return dm::ch03::p_sample(r.schedule, x, k, eps, z, dm::ch03::Variance::Beta, false);  // 03.3
  };
  auto noise = [&](const torch::Tensor& x, std::int64_t) {
    return torch::randn(x.sizes(), gen, torch::TensorOptions().device(torch::kCPU)).to(x.device());
  };
  return dm::ch03::p_sample_loop(dm::ch03::at_original_timesteps(eps_fn, r), step, r.schedule.T(), x_T, noise);
}
// ANCHOR_END: cg_sample

// Accuracy against t on the first n test images, each noised once per t with the same noise: the noise-aware
// classifier at t, and the evaluation classifier (trained on clean images) on the same x_t.
nlohmann::json accuracy_against_t(dm::nn::NoisyClassifier& clf, const dm::ch02::Schedule& s,
                                  const dm::CommonFlags& flags, const torch::Device& device, std::int64_t n,
                                  const std::filesystem::path& png) {
  const auto test = dm::load_fashion_mnist(flags.data_dir, dm::Split::Test);
  n = std::min<std::int64_t>(n, test.images.size(0));
  const auto x0 = test.images.slice(0, 0, n).to(device);
  const auto y = test.labels.slice(0, 0, n).to(torch::kCPU);
  auto judge = dm::eval::load_classifier(dm::eval::course_classifier_path(), device);
  const auto eps = torch::randn(x0.sizes(), make_gen(flags.seed + 11)).to(device);
  const std::vector<std::int64_t> ts = {0, 50, 100, 200, 300, 400, 500, 600, 700, 800, 900, 999};
  std::vector<double> tx, noisy, clean;
  nlohmann::json rows = nlohmann::json::array();
  fmt::print("\nclassifier accuracy against t ({} test images, the same noise at every t):\n", n);
  fmt::print("     t   alpha_bar   noise-aware (guides)   evaluation classifier (clean-trained, judges)\n");
  torch::NoGradGuard no_grad;
  for (auto t : ts) {
    if (t >= s.T()) continue;
    const auto tt = torch::full({n}, t, torch::kLong).to(device);
    const auto x_t = dm::ch02::q_sample(s, x0, tt, eps);  // 02.3
    auto correct = [&](const std::function<torch::Tensor(const torch::Tensor&)>& logits) {
      std::int64_t k = 0;
      for (std::int64_t i = 0; i < n; i += 500) {
        const auto len = std::min<std::int64_t>(500, n - i);
        k += (logits(x_t.slice(0, i, i + len)).argmax(1).cpu() == y.slice(0, i, i + len)).sum().item<std::int64_t>();
      }
      return wilson(double(k), double(n));
    };
    const auto a = correct([&](const torch::Tensor& x) { return clf->forward(x, tt.slice(0, 0, x.size(0))); });
    const auto b = correct([&](const torch::Tensor& x) { return judge->logits(x); });
    const double ab = s.alpha_bar[t].item<double>();
    fmt::print("  {:4d}   {:9.4f}   {:.3f} [{:.3f}, {:.3f}]    {:.3f} [{:.3f}, {:.3f}]\n", t, ab, a.value, a.lo, a.hi,
               b.value, b.lo, b.hi);
    tx.push_back(double(t));
    noisy.push_back(a.value);
    clean.push_back(b.value);
    rows.push_back({{"t", t},
                    {"alpha_bar", ab},
                    {"noise_aware", a.value},
                    {"noise_aware_ci", {a.lo, a.hi}},
                    {"evaluation", b.value},
                    {"evaluation_ci", {b.lo, b.hi}}});
  }
  dm::Figure fig{fmt::format("classifier accuracy on noised test images (n = {})", n), "t", "accuracy"};
  fig.line(tx, noisy, "noise-aware p_phi(y | x_t, t): guides");
  fig.line(tx, clean, "evaluation classifier (clean images): judges");
  fig.line({0, tx.back()}, {0.1, 0.1}, "chance (1 in 10)", dm::Style::dashed());
  fig.ylim(0, 1);
  fig.save(png);
  return {{"n", n}, {"rows", rows}};
}

struct Row {
  double scale = 0;
  dm::eval::EvalReport report;
  Accuracy judge, guide;
  Accuracy guide_minus_judge;  // the paired difference of the two accuracies
  double disagree = 0, guide_fooled = 0, wall = 0;
  torch::Tensor samples;
};

}  // namespace

std::vector<TradeoffPoint> tradeoff_points(const nlohmann::json& rows, const std::string& name) {
  std::vector<TradeoffPoint> out;
  for (const auto& r : rows) {
    const auto& e = r.at("eval");
    TradeoffPoint p;
    p.label = fmt::format("{} = {:g}", name, r.value("strength", r.value("scale", 0.0)));
    p.accuracy = r.at("accuracy").get<double>();
    p.fid = e.at("fid").get<double>();
    p.fid_lo = e.at("fid_ci")[0].get<double>();
    p.fid_hi = e.at("fid_ci")[1].get<double>();
    p.recall = e.at("recall").get<double>();
    p.recall_lo = e.at("recall_ci")[0].get<double>();
    p.recall_hi = e.at("recall_ci")[1].get<double>();
    out.push_back(p);
  }
  return out;
}

nlohmann::json run_classifier_guidance(const CgConfig& cfg, const SweepSettings& sw, const dm::CommonFlags& flags,
                                       const torch::Device& device, const dm::eval::Evaluator& ev, dm::RunDir& run,
                                       std::int64_t stop_after, const std::vector<TradeoffPoint>& cfg_points,
                                       const std::string& cfg_source, bool& interrupted) {
  interrupted = false;
  nlohmann::json out = nlohmann::json::object();
  const auto t_part = Clock::now();
  fmt::print("\n==== classifier guidance of the unconditional model {} ====\n", cfg.unconditional);
  auto loaded =
      dm::nn::load_model_file(cfg.unconditional, device, dm::ch03::sinusoidal_embedding_fn(), cfg.unconditional_sha256);
  if (loaded.config.num_classes > 0)
    throw dm::UserError(
        fmt::format("--unconditional {}: a class-conditional model; classifier guidance steers an "
                    "unconditional one (chapter 03's model.dmt)",
                    cfg.unconditional));
  auto model = loaded.model;
  model->eval();
  const auto s = schedule_from(loaded.meta);
  if (cfg.ddpm_steps > s.T() && std::find(cfg.samplers.begin(), cfg.samplers.end(), "ddpm") != cfg.samplers.end())
    throw dm::UsageError(
        fmt::format("--cg-ddpm-steps {}: the model has T = {} steps, so at most {}", cfg.ddpm_steps, s.T(), s.T()));

  // ---- the noise-aware classifier: from a file, or fresh ----
  dm::nn::NoisyClassifier clf{nullptr};
  nlohmann::json clf_meta = nlohmann::json::object();
  if (!cfg.classifier.empty()) {
    auto c = dm::nn::load_noisy_classifier(cfg.classifier, device, dm::ch03::sinusoidal_embedding_fn(),
                                           cfg.classifier_sha256);
    clf = c.model;
    clf_meta = c.meta;
    if (clf_meta.value("T", s.T()) != s.T())
      throw dm::UserError(fmt::format("--classifier {} was trained with T = {}, the model guided has T = {}",
                                      cfg.classifier, clf_meta.value("T", 0), s.T()));
    fmt::print("noise-aware classifier from {} ({} steps of training)\n", cfg.classifier,
               clf_meta.value("steps", std::int64_t{0}));
  } else {
    clf = dm::nn::NoisyClassifier(dm::nn::NoisyClassifierConfig{}, dm::ch03::sinusoidal_embedding_fn());
    clf->to(device);
    fmt::print("noise-aware classifier: a fresh one\n");
  }
  fmt::print("noise-aware classifier: {} parameters (the evaluation classifier: separate weights)\n",
             clf->num_parameters());
  const auto steps_before = clf_meta.value("steps", std::int64_t{0});
  std::vector<double> losses;
  double train_s = 0;
  if (cfg.classifier_steps > 0) {
    const auto data = dm::load_fashion_mnist(flags.data_dir, dm::Split::Train);
    torch::optim::AdamW opt(clf->parameters(), torch::optim::AdamWOptions(cfg.classifier_lr));
    auto save = [&](std::int64_t done) {
      dm::nn::save_noisy_classifier(run.file("classifier.dmt"), clf,
                                    {{"steps", steps_before + done},
                                     {"steps_here", done},
                                     {"T", s.T()},
                                     {"batch", cfg.classifier_batch},
                                     {"lr", cfg.classifier_lr},
                                     {"started_from", cfg.classifier.empty() ? "fresh" : cfg.classifier},
                                     {"track", dm::track()}});
    };
    dm::train::LoopOptions loop;
    loop.steps = cfg.classifier_steps;
    loop.ckpt_every = std::max<std::int64_t>(1, cfg.classifier_steps / 4);
    loop.stop_after = stop_after;
    loop.label = "classifier";
    loop.nan_advice = fmt::format("lower --classifier-lr (now {})", cfg.classifier_lr);
    const auto r = train_classifier(clf, opt, s, data, cfg, device, loop, losses, save);
    train_s = r.seconds;
    if (r.interrupted) {
      fmt::print("interrupted: the classifier so far is in {} (pass it with --classifier to go on)\n",
                 run.file("classifier.dmt").string());
      interrupted = true;
      return out;
    }
    fmt::print("classifier: {} steps of {} images in {:.1f} s; loss first = {:.4f}, last (centred mean) = {:.4f}\n",
               cfg.classifier_steps, cfg.classifier_batch, train_s, losses.front(),
               dm::train::smooth_centred(losses).back());
    dm::train::plot_losses(losses, run.file("classifier_loss.png"), "noise-aware classifier: cross-entropy on x_t",
                           "loss (nats)", steps_before);
    fmt::print("wrote {}\n", run.file("classifier.dmt").string());
  }
  out["classifier"] = {{"started_from", cfg.classifier.empty() ? "fresh" : cfg.classifier},
                       {"steps_before", steps_before},
                       {"steps", cfg.classifier_steps},
                       {"batch", cfg.classifier_batch},
                       {"lr", cfg.classifier_lr},
                       {"parameters", clf->num_parameters()},
                       {"wall_s", train_s}};
  out["accuracy_against_t"] =
      accuracy_against_t(clf, s, flags, device, cfg.accuracy_images, run.file("classifier_accuracy.png"));

  // ---- the sweep: the same noise and labels at every scale, for each sampler ----
  const auto y = balanced_labels(sw.samples).to(device);
  const auto x_T = torch::randn({sw.samples, 1, 28, 28}, make_gen(flags.seed + 3)).to(device);
  std::vector<TradeoffPoint> cg_points;
  nlohmann::json sweeps = nlohmann::json::object();
  for (const auto& sampler : cfg.samplers) {
    const auto steps_label = sampler == "ddim" ? fmt::format("DDIM {} steps (eta 0)", sw.sample_steps)
                                               : fmt::format("DDPM {} respaced steps", cfg.ddpm_steps);
    fmt::print("\nclassifier guidance, {}: {} images per s (the same labels, balanced, and the same noise)\n",
               steps_label, sw.samples);
    if (sampler == "ddpm") {  // the eps shift moves DDPM's mean by s beta_k / sqrt(alpha_k) grad: Algorithm 1's
      // s Sigma grad (Sigma = beta_k) times 1 / sqrt(alpha_k), largest at the noisiest step
      auto worst = [](const torch::Tensor& alpha) { return alpha.rsqrt().max().item<double>(); };
      fmt::print(
          "  (the eps shift moves the mean by s beta_t / sqrt(alpha_t) times the gradient: Dhariwal & Nichol's "
          "mean shift s beta_t grad, times at most {:.3f} on these {} steps, {:.3f} on all {})\n",
          worst(dm::ch03::respace(s, cfg.ddpm_steps).schedule.alpha), cfg.ddpm_steps, worst(s.alpha), s.T());
    }
    std::vector<Row> rows;
    for (double scale : cfg.scales) {
      const auto t0 = Clock::now();
      Row r;
      r.scale = scale;
      r.samples = sample_in_batches(sw.samples, sw.sample_batch, [&](std::int64_t start, std::int64_t n) {
        return sample_classifier_guided(sampler, model, clf, s, x_T.slice(0, start, start + n),
                                        y.slice(0, start, start + n), scale, sw, cfg.ddpm_steps,
                                        flags.seed + 5 + std::uint64_t(start));
      });
      r.wall = since(t0);
      r.report = ev.evaluate(r.samples);
      r.judge = class_accuracy(ev, r.samples, y);
      // the guiding classifier on the final samples (t = 0), and how often it disagrees with the judge
      torch::NoGradGuard no_grad;
      const auto zeros = torch::zeros({sw.samples}, torch::kLong).to(device);
      const auto guide_says = clf->forward(r.samples.to(device), zeros).argmax(1).cpu();
      const auto judge_says = ev.probabilities(r.samples).argmax(1);
      const auto yc = y.cpu();
      r.guide = wilson((guide_says == yc).sum().item<double>(), double(sw.samples));
      r.disagree = (guide_says != judge_says).to(torch::kFloat64).mean().item<double>();
      const double only_guide = ((guide_says == yc) & (judge_says != yc)).sum().item<double>();
      const double only_judge = ((guide_says != yc) & (judge_says == yc)).sum().item<double>();
      r.guide_fooled = only_guide / double(sw.samples);
      r.guide_minus_judge = paired_difference(only_guide, only_judge, double(sw.samples));
      fmt::print("s = {:g}: {} | judge's accuracy {:.3f} [{:.3f}, {:.3f}] | guide's {:.3f} ({:.0f} s)\n", scale,
                 r.report.summary(), r.judge.value, r.judge.lo, r.judge.hi, r.guide.value, r.wall);
      rows.push_back(std::move(r));
    }
    // ANCHOR: cg_table
    fmt::print("\n{} | n = {} per row\n", steps_label, sw.samples);
    fmt::print("{:>5}  {:>21}  {:>17}  {:>17}  {:>21}  {:>5}  {:>21}  {:>24}  {:>8}  {:>22}\n", "s", "FID [95 %]",
               "precision", "recall", "accuracy (judge)", "conf.", "accuracy (guide)", "guide - judge [95 %]",
               "disagree", "FID - FID(first) [95 %]");
    nlohmann::json table = nlohmann::json::array();
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& r = rows[i];
      std::string diff = "-";
      nlohmann::json d;
      if (i > 0) {
        const auto e = ev.fid_difference(r.samples, rows[0].samples);
        diff = fmt::format("{:+.2f} [{:+.2f}, {:+.2f}]", e.value, e.ci.lo, e.ci.hi);
        d = {{"value", e.value}, {"ci", {e.ci.lo, e.ci.hi}}};
      }
      fmt::print(
          "{:>5g}  {:6.2f} [{:6.2f}, {:6.2f}]  {:.2f} [{:.2f}, {:.2f}]  {:.2f} [{:.2f}, {:.2f}]  "
          "{:.3f} [{:.3f}, {:.3f}]  {:.2f}  {:.3f} [{:.3f}, {:.3f}]  {:+.3f} [{:+.3f}, {:+.3f}]  {:8.3f}  {:>22}\n",
          r.scale, r.report.fid, r.report.fid_ci.lo, r.report.fid_ci.hi, r.report.precision, r.report.precision_ci.lo,
          r.report.precision_ci.hi, r.report.recall, r.report.recall_ci.lo, r.report.recall_ci.hi, r.judge.value,
          r.judge.lo, r.judge.hi, r.judge.confidence, r.guide.value, r.guide.lo, r.guide.hi, r.guide_minus_judge.value,
          r.guide_minus_judge.lo, r.guide_minus_judge.hi, r.disagree, diff);
      table.push_back({{"scale", r.scale},
                       {"eval", r.report.to_json()},
                       {"accuracy", r.judge.value},
                       {"accuracy_ci", {r.judge.lo, r.judge.hi}},
                       {"mean_confidence", r.judge.confidence},
                       {"guide_accuracy", r.guide.value},
                       {"guide_accuracy_ci", {r.guide.lo, r.guide.hi}},
                       {"disagreement", r.disagree},
                       {"guide_right_judge_not", r.guide_fooled},
                       {"guide_minus_judge", r.guide_minus_judge.value},
                       {"guide_minus_judge_ci", {r.guide_minus_judge.lo, r.guide_minus_judge.hi}},
                       {"fid_minus_first", d},
                       {"wall_s", r.wall}});
    }
    fmt::print(
        "(judge: the course's evaluation classifier, trained on clean images, {:.1f} % on the test set; guide: the "
        "noise-aware classifier whose gradient steers, read at t = 0; guide - judge: their accuracies' difference on "
        "these samples, paired; disagree: the fraction of samples the two put in different classes; a difference "
        "whose interval holds 0 is not one)\n",
        100 * ev.classifier_accuracy());
    // ANCHOR_END: cg_table
    // the grid: rows classes, columns s
    std::vector<cv::Mat> columns;
    std::vector<std::string> captions;
    for (const auto& r : rows) {
      std::vector<torch::Tensor> cells;
      for (auto c : sw.grid_classes) cells.push_back(r.samples[c < sw.samples ? c : 0]);
      columns.push_back(dm::make_grid(torch::stack(cells), 1, 2, 3));
      captions.push_back(fmt::format("s = {:g}", r.scale));
    }
    dm::save_png(run.file("cg_grid_" + sampler + ".png"), dm::labelled_strip(columns, captions));
    for (const auto& p : tradeoff_points(table, sampler == "ddim" ? "CG, DDIM: s" : "CG, DDPM: s"))
      cg_points.push_back(p);
    sweeps[sampler] = {{"sampler", sampler},
                       {"steps", sampler == "ddim" ? sw.sample_steps : cfg.ddpm_steps},
                       {"n", sw.samples},
                       {"rows", table}};
  }
  out["sweeps"] = sweeps;

  // cg_tradeoff.png: FID and recall against the judge's accuracy, classifier guidance beside CFG
  if (!cg_points.empty()) {
    dm::Figure f1{"FID against class accuracy", "class accuracy (evaluation classifier)", "FID"};
    dm::Figure f2{"recall against class accuracy", "class accuracy (evaluation classifier)", "recall"};
    auto draw = [&](const std::vector<TradeoffPoint>& pts, const std::string& name, int size) {
      dm::Style style;  // a line through the points, in the order of the strengths, each point a dot
      style.marker_radius = size;
      std::vector<double> a, f, flo, fhi, r, rlo, rhi;
      for (const auto& p : pts) {
        a.push_back(p.accuracy), f.push_back(p.fid), flo.push_back(p.fid_lo), fhi.push_back(p.fid_hi);
        r.push_back(p.recall), rlo.push_back(p.recall_lo), rhi.push_back(p.recall_hi);
      }
      f1.line(a, f, name, style).errors(flo, fhi);
      f2.line(a, r, name, style).errors(rlo, rhi);
    };
    for (const auto& sampler : cfg.samplers) {
      std::vector<TradeoffPoint> mine;
      const auto prefix = sampler == "ddim" ? std::string("CG, DDIM") : std::string("CG, DDPM");
      for (const auto& p : cg_points)
        if (p.label.rfind(prefix, 0) == 0) mine.push_back(p);
      draw(mine, fmt::format("classifier guidance, {} (s = {})", sampler, fmt::join(cfg.scales, ", ")), 4);
    }
    if (!cfg_points.empty()) draw(cfg_points, "classifier-free guidance (" + cfg_source + ")", 4);
    dm::save_png(run.file("cg_tradeoff.png"), dm::hstack({f1.render(), f2.render()}));
  }
  out["cfg_points_from"] = cfg_source;
  out["wall_s"] = since(t_part);
  fmt::print("classifier guidance: {:.1f} s in all\n", out["wall_s"].get<double>());
  return out;
}

}  // namespace ch06
