// Chapter 05: DDIM (Song, Meng & Ermon 2021) on chapter 03's trained DDPM.
//
//   load      the EMA U-Net of chapter 03 (runs/03_ddpm/model.dmt) and its schedule
//   sample    with the generalised DDIM sampler: your 05.1 and 05.2 (exercise_parts()) looped by your
//             05.3 (ddim_sample): eta = 0 is deterministic; the same noise with every step count and
//             eta; real test images inverted to noise and back (05.4); a slerp path between two
//             noises (05.5), decoded
//   evaluate  FID (the course's own classifier, dm/eval; the Frechet distance of 03.5) and images/s
//             for every step count and eta in {0, 0.5, 1}, and DDIM's FID against DDPM-T's
//   plot      FID against steps
// Writes
//   runs/05_ddim/samples_by_steps.png  the same x_T sampled with each step count (rows: eta)
//   runs/05_ddim/inversion.png         test images, their DDIM latents, and the reconstructions
//   runs/05_ddim/interpolation.png     slerp (and, for contrast, lerp) between two noises, decoded
//   runs/05_ddim/fid_vs_steps.png      FID against steps, one line per eta, with the real-vs-real floor
//   runs/05_ddim/metrics.json          the table, determinism and inversion numbers, wall times
//
// DDPM-T (the baseline) is the eta = 1 sampler with every step: then t_prev = t - 1 and sigma^2 is
// DDPM's beta_tilde, i.e. Algorithm 2 with sigma^2 = beta_tilde; it is always measured. Chapter 03's
// models (quick mode included) are trained with T = 1000, so the baseline is DDPM-1000 and every DDIM
// row skips steps; --quick samples 100 images per setting at 10, 20, 50 and 100 steps for every eta.
// Step counts above the model's T are dropped (the program says which).
//
//   build/default/bin/solutions/05_ddim --quick            (after ./course run 03 -- --quick)
//   build/default/bin/solutions/05_ddim --steps 10,50 --eta 0 --samples 1000
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
#include <map>
#include <string>
#include <vector>

#include "02_forward_noising/schedule.hpp"
#include "03_ddpm/ddpm.hpp"
#include "03_ddpm/frechet.hpp"
#include "05_ddim/ddim.hpp"
#include "dm/cli.hpp"
#include "dm/data/fashion_mnist.hpp"
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

namespace {

using Clock = std::chrono::steady_clock;
using dm::ch05::DdimOptions;

// ANCHOR: hyperparameters
// ---- hyperparameters (--quick values in brackets; each overridable by its flag) -------------------
struct Config {
  std::string ckpt;                                           // --ckpt: default <out>/03_ddpm/model.dmt
  std::vector<std::int64_t> steps = {10, 20, 50, 100, 1000};  // --steps: DDIM step counts, > T dropped [10,20,50,100]
  std::vector<double> etas = {0.0, 0.5, 1.0};                 // --eta: noise levels, each in [0, 1]
  std::string spacing = "trailing";                           // --spacing: leading | trailing | linspace
  std::int64_t offset = 0;                                    // --offset: leading spacing's steps_offset
  bool clip_x0 = true;          // --clip-x0 / --no-clip-x0: clip x0_hat to [-1, 1] each step (as chapter 03 samples)
  std::int64_t samples = 2000;  // --samples: images per (steps, eta) for FID [100]
  std::int64_t sample_batch = 500;     // --sample-batch: images per sampler call [100]
  std::int64_t ratio_steps = 50;       // --ratio-steps: the DDIM step count compared with DDPM-T
  std::int64_t inversion_images = 8;   // --inversion-images: test images inverted and reconstructed
  std::int64_t inversion_steps = 100;  // --inversion-steps: steps of the inversion (capped at T) [50]
  std::int64_t interp_points = 9;      // --interp-points: images along the slerp path
  std::int64_t decode_steps = 50;      // --decode-steps: DDIM steps (eta 0) for the strips (capped at T)
};
// ANCHOR_END: hyperparameters

// The schedule the model was trained with, as chapter 03 builds it (chapter 02's exercise code): with
// T != 1000 the linear schedule's end points are scaled by 1000 / T so alpha_bar[T-1] stays near 0.
torch::Tensor training_alpha_bar(const std::string& name, std::int64_t T) {
  if (name == "linear") {
    const double scale = 1000.0 / double(T);
    return dm::ch02::make_schedule(dm::ch02::linear_beta_schedule(T, 1e-4 * scale, 0.02 * scale)).alpha_bar;
  }
  return dm::ch02::named_schedule(name, T).alpha_bar;
}

cv::Mat bgr(const cv::Mat& m) {
  if (m.channels() == 3) return m;
  cv::Mat out;
  cv::cvtColor(m, out, cv::COLOR_GRAY2BGR);
  return out;
}

// A white panel `width` wide, as tall as `like`, with `text` centred vertically.
cv::Mat row_label(const cv::Mat& like, int width, const std::string& text) {
  cv::Mat panel(like.rows, width, CV_8UC3, cv::Scalar::all(255));
  int base = 0;
  const auto sz = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, 0.5, 1, &base);
  cv::putText(panel, text, cv::Point(6, (like.rows + sz.height) / 2), cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar::all(0),
              1, cv::LINE_AA);
  return panel;
}
cv::Mat labelled_row(const cv::Mat& row, const std::string& text) {
  cv::Mat out;
  cv::hconcat(row_label(bgr(row), 140, text), bgr(row), out);
  return out;
}

at::Generator make_gen(std::uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

// ANCHOR: eps_fn
// The model as the sampler sees it. With clip_x0, eps is recomputed from the clipped x0_hat
// (eps = (x - sqrt(ab) clip(x0_hat)) / sqrt(1 - ab)), so the DDIM step lands on the clipped guess.
dm::ch05::EpsFn make_eps_fn(dm::nn::UNet& model, const torch::Tensor& alpha_bar, bool clip_x0) {
  return [&model, alpha_bar, clip_x0](const torch::Tensor& x, const torch::Tensor& t) {
    auto eps = model->forward(x, t);
    if (!clip_x0) return eps;
    const double ab = alpha_bar[t[0].item<std::int64_t>()].item<double>();
    auto x0 = ((x - std::sqrt(1 - ab) * eps) / std::sqrt(ab)).clamp(-1, 1);
    return (x - std::sqrt(ab) * x0) / std::sqrt(1 - ab);
  };
}
// ANCHOR_END: eps_fn

// ---- load the model ------------------------------------------------------------------------------------

// Chapter 03's EMA U-Net and the schedule it was trained with.
struct Model {
  dm::nn::UNet unet{nullptr};
  std::filesystem::path ckpt;
  std::int64_t T = 0;
  std::string schedule;
  torch::Tensor alpha_bar;  // [T] float64, CPU
};

Model load_model(const Config& cfg, const dm::CommonFlags& flags, const torch::Device& device) {
  Model m;
  // Yours (chapter 03's run), else the course's reference model (reference/03_ddpm, hash checked).
  const auto own = std::filesystem::path(flags.out_root) / "03_ddpm" / dm::nn::kModelFileName;
  const auto ref = dm::io::reference_path("03_ddpm/model.dmt");
  std::string expect_sha256;
  if (!cfg.ckpt.empty()) {
    m.ckpt = cfg.ckpt;
  } else if (std::filesystem::exists(own) || !std::filesystem::exists(ref)) {
    m.ckpt = own;
  } else {
    m.ckpt = ref;
    expect_sha256 = dm::io::reference_sha256(ref);
    fmt::print("no model of yours at {}: using the course's reference model (reference/README.md)\n", own.string());
  }
  if (!std::filesystem::exists(m.ckpt))
    throw dm::UserError(
        fmt::format("no chapter 03 model at {}: run chapter 03 first: ./course run 03 -- --quick", m.ckpt.string()));
  // A model file (.dmt, any LibTorch) or a training checkpoint of chapter 03 (its EMA weights).
  auto loaded = m.ckpt.extension() == ".dmt"
                    ? dm::nn::load_model_file(m.ckpt, device, dm::ch03::sinusoidal_embedding_fn(), expect_sha256)
                    : dm::nn::load_model(m.ckpt, device, dm::ch03::sinusoidal_embedding_fn());
  m.unet = loaded.model;
  m.unet->eval();
  m.T = loaded.meta.value("T", std::int64_t{1000});
  m.schedule = loaded.meta.value("schedule", std::string("linear"));
  m.alpha_bar = training_alpha_bar(m.schedule, m.T);
  fmt::print("model: {} ({}), EMA weights, trained {} steps, schedule {}, T = {}\n", m.ckpt.string(),
             loaded.config.describe(), loaded.meta.value("step", std::int64_t{0}), m.schedule, m.T);
  return m;
}

// The step counts of the table: those up to T (more than T is an error when asked for, dropped and
// said when they are the defaults), plus the ratio's, sorted.
std::vector<std::int64_t> step_counts(const Config& cfg, std::int64_t T, bool asked_for) {
  std::vector<std::int64_t> steps, dropped;
  for (auto n : cfg.steps) (n <= T ? steps : dropped).push_back(n);
  if (!dropped.empty() && asked_for)
    throw dm::UsageError(fmt::format("--steps {}: more DDIM steps than the model's T = {}", dropped.front(), T));
  if (!dropped.empty()) {
    std::string d;
    for (auto n : dropped) d += fmt::format("{}{}", d.empty() ? "" : ", ", n);
    fmt::print("step counts {} exceed T = {}: dropped; DDPM-{} (eta = 1, every step) is the baseline\n", d, T, T);
  }
  const std::int64_t ratio_steps = std::min(cfg.ratio_steps, T);
  if (std::find(steps.begin(), steps.end(), ratio_steps) == steps.end()) steps.push_back(ratio_steps);
  std::sort(steps.begin(), steps.end());
  return steps;
}

// The eta values of the table: those asked for, with 0 (DDIM) and 1 (DDPM-like) always among them.
std::vector<double> eta_values(const Config& cfg) {
  std::vector<double> etas = cfg.etas;
  if (std::find(etas.begin(), etas.end(), 0.0) == etas.end()) etas.insert(etas.begin(), 0.0);
  if (std::find(etas.begin(), etas.end(), 1.0) == etas.end()) etas.push_back(1.0);
  return etas;
}

// ---- sample: the student's DDIM over the model -----------------------------------------------------------

// ANCHOR: ddim
// Your 05.1 and 05.2 (exercise_parts()), looped by your 05.3 (sample) and 05.4 (invert).
struct Ddim {
  dm::ch05::DdimParts parts = dm::ch05::exercise_parts();
  dm::ch05::EpsFn eps;        // the model, x0_hat clipped with --clip-x0
  dm::ch05::EpsFn eps_plain;  // the model as it is (inversion and its reconstruction)
  torch::Tensor alpha_bar;    // [T] float64
  DdimOptions base;           // spacing and offset

  DdimOptions options(std::int64_t steps, double eta) const {
    DdimOptions o = base;
    o.steps = steps;
    o.eta = eta;
    return o;
  }
  torch::Tensor sample(const torch::Tensor& x_T, std::int64_t steps, double eta,
                       const dm::ch05::NoiseFn& noise = nullptr) const {
    return dm::ch05::ddim_sample(parts, eps, alpha_bar, x_T, options(steps, eta), noise);  // 05.3
  }
  torch::Tensor invert(const torch::Tensor& x0, std::int64_t steps) const {
    return dm::ch05::ddim_invert(parts, eps_plain, alpha_bar, x0, options(steps, 0.0));  // 05.4
  }
  torch::Tensor reconstruct(const torch::Tensor& latent, std::int64_t steps) const {
    return dm::ch05::ddim_sample(parts, eps_plain, alpha_bar, latent, options(steps, 0.0));  // 05.3
  }
};
// ANCHOR_END: ddim

// Noise for the eta > 0 steps from its own generator, drawn on the CPU (the same on every device).
dm::ch05::NoiseFn noise_from(at::Generator& gen) {
  return [&gen](const torch::Tensor& x, std::int64_t) {
    return torch::randn(x.sizes(), gen, torch::TensorOptions().device(torch::kCPU)).to(x.device());
  };
}

// eta = 0 is deterministic: the same noise twice.
void check_determinism(const Ddim& ddim, const torch::Tensor& x_fixed, std::int64_t steps, nlohmann::json& metrics) {
  // ANCHOR: determinism
  auto first = ddim.sample(x_fixed, steps, 0.0);
  auto second = ddim.sample(x_fixed.clone(), steps, 0.0);
  const double det_diff = (first - second).abs().max().item<double>();
  fmt::print("determinism: eta = 0, {} steps, the same 16 noises twice: max |difference| = {:.3g}\n", steps, det_diff);
  // ANCHOR_END: determinism
  metrics["determinism"] = {{"steps", steps}, {"images", 16}, {"max_abs_diff", det_diff}};
}

// The same x_T with every step count, one row per eta.
void samples_by_steps(const Ddim& ddim, const torch::Tensor& x_grid, const std::vector<std::int64_t>& steps,
                      const std::vector<double>& etas, std::uint64_t seed, const std::filesystem::path& png) {
  std::vector<cv::Mat> rows;
  for (double eta : etas) {
    std::vector<cv::Mat> cells;
    std::vector<std::string> captions;
    for (auto n : steps) {
      auto gen_row = make_gen(seed + 7);  // the same eta-noise for every step count
      auto x = ddim.sample(x_grid, n, eta, noise_from(gen_row));
      cells.push_back(dm::make_grid(x.clamp(-1, 1).cpu(), 3, 2, 2));
      captions.push_back(fmt::format("{} steps", n));
    }
    rows.push_back(labelled_row(dm::labelled_strip(cells, captions), fmt::format("eta = {:g}", eta)));
  }
  cv::Mat by_steps;
  cv::vconcat(rows, by_steps);
  dm::save_png(png, by_steps);
}

// Real test images to their latents and back.
void invert_test_images(const Ddim& ddim, const torch::Tensor& x0, std::int64_t steps, const dm::RunDir& run,
                        nlohmann::json& metrics) {
  // ANCHOR: inversion
  auto latent = ddim.invert(x0, steps);
  auto recon = ddim.reconstruct(latent, steps);
  const double inv_mae = (recon - x0).abs().mean().item<double>();
  const double inv_max = (recon - x0).abs().max().item<double>();
  const double latent_mean = latent.mean().item<double>(), latent_std = latent.std().item<double>();
  fmt::print(
      "inversion: {} test images, {} steps: mean |x0 - reconstruction| = {:.4f}, max = {:.4f} (pixels in [-1, 1]); "
      "latent mean = {:.3f}, std = {:.3f}\n",
      x0.size(0), steps, inv_mae, inv_max, latent_mean, latent_std);
  // ANCHOR_END: inversion
  const int nrow = int(x0.size(0));
  std::vector<cv::Mat> r = {labelled_row(dm::make_grid(x0.cpu(), nrow, 2, 3), "data x_0"),
                            labelled_row(dm::make_grid((latent / 3).clamp(-1, 1).cpu(), nrow, 2, 3), "latent x_T / 3"),
                            labelled_row(dm::make_grid(recon.clamp(-1, 1).cpu(), nrow, 2, 3), "reconstruction")};
  cv::Mat inv;
  cv::vconcat(r, inv);
  dm::save_png(run.file("inversion.png"), inv);
  metrics["inversion"] = {{"images", x0.size(0)},       {"steps", steps},
                          {"mean_abs_error", inv_mae},  {"max_abs_error", inv_max},
                          {"latent_mean", latent_mean}, {"latent_std", latent_std}};
}

// Two noises, the slerp path between them (05.5) and, for contrast, the straight line, decoded.
void interpolate(const Ddim& ddim, const torch::Tensor& z0, std::int64_t points, std::int64_t steps,
                 const dm::RunDir& run, nlohmann::json& metrics) {
  // ANCHOR: interpolation
  auto za = z0.slice(0, 0, 1), zb = z0.slice(0, 1, 2);
  std::vector<torch::Tensor> path_s, path_l;
  std::vector<double> norm_s, norm_l;
  for (std::int64_t k = 0; k < points; ++k) {
    const double a = double(k) / double(points - 1);
    path_s.push_back(dm::ch05::slerp(za, zb, a));
    path_l.push_back((1 - a) * za + a * zb);
    norm_s.push_back(path_s.back().norm().item<double>());
    norm_l.push_back(path_l.back().norm().item<double>());
  }
  auto img_s = ddim.sample(torch::cat(path_s), steps, 0.0);
  auto img_l = ddim.sample(torch::cat(path_l), steps, 0.0);
  // ANCHOR_END: interpolation
  const auto mid = std::size_t(points / 2);
  fmt::print("interpolation: |z| = {:.1f} and {:.1f} at the ends; midpoint |slerp| = {:.1f}, |lerp| = {:.1f}\n",
             norm_s.front(), norm_s.back(), norm_s[mid], norm_l[mid]);
  const int n = int(points);
  std::vector<cv::Mat> r = {labelled_row(dm::make_grid(img_s.clamp(-1, 1).cpu(), n, 2, 3), "slerp"),
                            labelled_row(dm::make_grid(img_l.clamp(-1, 1).cpu(), n, 2, 3), "lerp")};
  cv::Mat strip;
  cv::vconcat(r, strip);
  dm::save_png(run.file("interpolation.png"), strip);
  metrics["interpolation"] = {{"points", points}, {"slerp_norms", norm_s}, {"lerp_norms", norm_l}};
}

// ---- evaluate: FID against steps ---------------------------------------------------------------------------

// FID of each setting, keyed by (eta, steps), and the real-vs-real floor at the same n.
using FidTable = std::map<std::pair<double, std::int64_t>, double>;
using IntervalTable = std::map<std::pair<double, std::int64_t>, dm::eval::Interval>;
struct Fids {
  FidTable fid;
  IntervalTable fid_ci;  // the 95 % bootstrap interval of each cell's FID
  double floor = 0;
  dm::eval::Estimate ratio_difference;  // FID(DDIM-ratio_steps, eta 0) - FID(DDPM-T), paired over the same x_T
};

// Every (eta, steps) cell, plus DDPM-T (eta = 1, every step) when T is not among the steps, each from
// the same x_T (common random numbers: differences come from the sampler), FID through 03.5.
Fids fid_vs_steps(const Ddim& ddim, const Config& cfg, const std::vector<std::int64_t>& steps,
                  const std::vector<double>& etas, std::int64_t T, const dm::CommonFlags& flags,
                  const torch::Device& device, nlohmann::json& metrics) {
  dm::eval::Evaluator evaluator(dm::eval::chapter_eval_options(flags.out_root, flags.data_dir, device, flags.quick,
                                                               dm::ch03::frechet_distance));  // 03.5
  const double floor = evaluator.fid_floor(cfg.samples);
  const auto floor_ci = evaluator.fid_floor_interval(cfg.samples);
  fmt::print(
      "FID of {} samples per setting, 95 % bootstrap intervals over the samples ({} resamples); real-vs-real floor at "
      "n = {}: {:.2f} [{:.2f}, {:.2f}]\n",
      cfg.samples, evaluator.resamples(), cfg.samples, floor, floor_ci.lo, floor_ci.hi);
  auto x_T_all = torch::randn({cfg.samples, 1, 28, 28}, make_gen(flags.seed + 1));
  FidTable fid;
  IntervalTable fid_ci;
  const std::pair<double, std::int64_t> ddim_cell{0.0, std::min(cfg.ratio_steps, T)}, ddpm_cell{1.0, T};
  std::map<std::pair<double, std::int64_t>, torch::Tensor> compared;  // the two cells of the ratio
  nlohmann::json table = nlohmann::json::array();
  fmt::print("{:>5} {:>6} {:>9} {:>18} {:>8} {:>18} {:>6} {:>9} {:>8}\n", "eta", "steps", "FID", "FID 95 %", "KID",
             "KID 95 %", "n", "images/s", "wall s");
  std::vector<std::pair<double, std::int64_t>> cells;
  for (double eta : etas)
    for (auto n : steps) cells.emplace_back(eta, n);
  if (std::find(steps.begin(), steps.end(), T) == steps.end()) cells.emplace_back(1.0, T);
  for (const auto& [eta, n] : cells) {
    auto gen_eta = make_gen(flags.seed + 2);
    const auto noise = noise_from(gen_eta);
    const auto t0 = Clock::now();
    std::vector<torch::Tensor> out;
    for (std::int64_t i = 0; i < cfg.samples; i += cfg.sample_batch) {
      auto xb = x_T_all.slice(0, i, std::min(cfg.samples, i + cfg.sample_batch)).to(device);
      out.push_back(
          dm::nn::with_oom_advice("DDIM sampling", cfg.sample_batch, [&] { return ddim.sample(xb, n, eta, noise); })
              .clamp(-1, 1)
              .cpu());
    }
    const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    const auto samples = torch::cat(out);
    const auto report = evaluator.evaluate(samples);
    fid[{eta, n}] = report.fid;
    fid_ci[{eta, n}] = report.fid_ci;
    if (std::make_pair(eta, n) == ddim_cell || std::make_pair(eta, n) == ddpm_cell) compared[{eta, n}] = samples;
    const double ips = double(cfg.samples) / wall;
    fmt::print("{:>5g} {:>6} {:>9.2f} {:>18} {:>8.3f} {:>18} {:>6} {:>9.1f} {:>8.1f}\n", eta, n, report.fid,
               fmt::format("[{:.2f}, {:.2f}]", report.fid_ci.lo, report.fid_ci.hi), report.kid,
               fmt::format("[{:.3f}, {:.3f}]", report.kid_ci.lo, report.kid_ci.hi), report.n, ips, wall);
    std::fflush(stdout);
    auto row = report.to_json();
    row["eta"] = eta;
    row["steps"] = n;
    row["images_per_s"] = ips;
    row["wall_s"] = wall;
    table.push_back(row);
  }
  metrics["fid_vs_steps"] = table;
  metrics["samples_per_setting"] = cfg.samples;
  metrics["fid_floor"] = floor;
  metrics["fid_floor_ci"] = {floor_ci.lo, floor_ci.hi};
  // Both from the same x_T: the paired bootstrap resamples the same rows of both sets.
  const auto diff = evaluator.fid_difference(compared.at(ddim_cell), compared.at(ddpm_cell));
  return {fid, fid_ci, floor, diff};
}

// The target: DDIM-50 at eta = 0 within 1.5x of DDPM-T.
void report_ratio(const Fids& f, std::int64_t ratio_steps, std::int64_t T, std::int64_t samples,
                  nlohmann::json& metrics) {
  const double ddpm = f.fid.at({1.0, T}), ddim = f.fid.at({0.0, ratio_steps});
  const double ratio = ddim / ddpm;
  fmt::print(
      "DDIM-{} (eta = 0) FID {:.2f} vs DDPM-{} (eta = 1, every step) FID {:.2f}: ratio = {:.2f} (target <= 1.5; "
      "fast.ai's DDIM-50 was 3x its DDPM-1000); n = {}, floor {:.2f}\n",
      ratio_steps, ddim, T, ddpm, ratio, samples, f.floor);
  const auto& d = f.ratio_difference;
  fmt::print(
      "DDIM-{} minus DDPM-{}: FID difference {:.2f}, 95 % paired interval [{:.2f}, {:.2f}] (same x_T, n = {}){}\n",
      ratio_steps, T, d.value, d.ci.lo, d.ci.hi, samples,
      d.ci.contains(0.0) ? ": the interval holds 0, no measurable difference at this n" : "");
  metrics["ratio"] = {{"ddim_steps", ratio_steps},
                      {"ddim_fid", ddim},
                      {"ddpm_steps", T},
                      {"ddpm_fid", ddpm},
                      {"ratio", ratio},
                      {"target", 1.5},
                      {"fid_difference", d.value},
                      {"fid_difference_ci", {d.ci.lo, d.ci.hi}},
                      {"n", samples}};
}

// ---- plot -------------------------------------------------------------------------------------------------

void plot_fid(const Fids& f, const std::vector<std::int64_t>& steps, const std::vector<double>& etas, std::int64_t T,
              std::int64_t samples, const std::filesystem::path& png) {
  dm::Figure fig(fmt::format("FID against DDIM steps ({} samples each, T = {}; bars: 95 % intervals)", samples, T),
                 "steps", "FID (course classifier)");
  fig.logx();
  const cv::Scalar colors[] = {cv::Scalar(180, 119, 31), cv::Scalar(14, 127, 255), cv::Scalar(44, 160, 44),
                               cv::Scalar(40, 39, 214), cv::Scalar(189, 103, 148)};
  std::size_t ci = 0;
  for (double eta : etas) {
    std::vector<double> xs, ys, lo, hi;
    for (auto n : steps) {
      xs.push_back(double(n));
      ys.push_back(f.fid.at({eta, n}));
      lo.push_back(f.fid_ci.at({eta, n}).lo);
      hi.push_back(f.fid_ci.at({eta, n}).hi);
    }
    dm::Style st;
    st.color = colors[ci++ % 5];
    st.marker_radius = 3;
    fig.line(xs, ys, fmt::format("eta = {:g}", eta), st).errors(lo, hi);
  }
  const double x_hi = double(std::max(steps.back(), T));
  auto dashed = dm::Style::dashed();
  dashed.color = cv::Scalar::all(90);
  fig.line({double(steps.front()), x_hi}, {f.floor, f.floor}, "real-vs-real floor", dashed);
  if (std::find(steps.begin(), steps.end(), T) == steps.end()) {  // DDPM-T as one marked point
    auto pt = dm::Style::points();
    pt.color = cv::Scalar(40, 39, 214);
    fig.scatter({double(T)}, {f.fid.at({1.0, T})}, fmt::format("DDPM-{} (eta = 1, every step)", T), pt)
        .errors({f.fid_ci.at({1.0, T}).lo}, {f.fid_ci.at({1.0, T}).hi});
  }
  fig.save(png);
}

// ---- the command line ---------------------------------------------------------------------------------------

// CLI11 checks with messages that name the bound (CLI11's own PositiveNumber prints the double range).
// A value that is not a number passes them: the conversion to the option's type then says so.
CLI::Validator closed(double lo, double hi, const std::string& what) {  // in [lo, hi]; `what` the ends' meaning
  return CLI::Validator(
      [lo, hi, what](std::string& v) {
        double x = 0;
        if (!CLI::detail::lexical_cast(v, x)) return std::string{};
        return x >= lo && x <= hi ? std::string{} : fmt::format("must be in [{}, {}] ({}), got {}", lo, hi, what, v);
      },
      fmt::format("in [{}, {}]", lo, hi));
}
CLI::Validator at_least(std::int64_t lo) {
  return CLI::Validator(
      [lo](std::string& v) {
        std::int64_t x = 0;
        if (!CLI::detail::lexical_cast(v, x)) return std::string{};
        return x >= lo ? std::string{} : fmt::format("must be at least {}, got {}", lo, v);
      },
      fmt::format(">= {}", lo));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chapter 05: DDIM - fast and deterministic sampling of chapter 03's DDPM"};
  app.name("05_ddim");
  dm::CommonFlags flags{"05_ddim"};
  dm::add_common_flags(app, flags);
  Config cfg;
  const auto positive = at_least(1);
  app.add_option("--ckpt", cfg.ckpt, "chapter 03 model: its model.dmt or a ckpt.pt (default: <out>/03_ddpm/model.dmt)");
  auto* steps_opt = app.add_option("--steps", cfg.steps, "DDIM step counts, e.g. 10,50 (each 1..T)")
                        ->delimiter(',')
                        ->check(positive)
                        ->capture_default_str();
  app.add_option("--eta", cfg.etas, "eta values, e.g. 0,1 (each in [0, 1])")
      ->delimiter(',')
      ->check(closed(0, 1, "0: deterministic DDIM, 1: DDPM-like"))
      ->capture_default_str();
  app.add_option("--spacing", cfg.spacing, "timestep spacing")
      ->check(CLI::IsMember({"leading", "trailing", "linspace"}))
      ->capture_default_str();
  app.add_option("--offset", cfg.offset, "steps_offset of the leading spacing")
      ->check(at_least(0))
      ->capture_default_str();
  app.add_flag("--clip-x0,!--no-clip-x0", cfg.clip_x0, "clip x0_hat to [-1, 1] at every step");
  auto* samples_opt = app.add_option("--samples", cfg.samples, "images per setting for FID (>= 10)")
                          ->check(at_least(10))
                          ->capture_default_str();
  auto* batch_opt = app.add_option("--sample-batch", cfg.sample_batch, "images per sampler call")
                        ->check(positive)
                        ->capture_default_str();
  app.add_option("--ratio-steps", cfg.ratio_steps, "DDIM steps compared with DDPM-T")
      ->check(positive)
      ->capture_default_str();
  app.add_option("--inversion-images", cfg.inversion_images, "test images inverted (1..32)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{32}))
      ->capture_default_str();
  auto* inv_steps_opt = app.add_option("--inversion-steps", cfg.inversion_steps, "steps of the inversion")
                            ->check(positive)
                            ->capture_default_str();
  app.add_option("--interp-points", cfg.interp_points, "images along the slerp path (>= 2)")
      ->check(at_least(2))
      ->capture_default_str();
  app.add_option("--decode-steps", cfg.decode_steps, "DDIM steps for the strips")
      ->check(positive)
      ->capture_default_str();

  return dm::run_main(app, argc, argv, [&] {
    if (flags.quick) {
      if (samples_opt->count() == 0) cfg.samples = 100;
      if (batch_opt->count() == 0) cfg.sample_batch = 100;
      if (steps_opt->count() == 0) cfg.steps = {10, 20, 50, 100};  // DDPM-T (eta = 1) is added by fid_vs_steps
      if (inv_steps_opt->count() == 0) cfg.inversion_steps = 50;
    }
    if (cfg.steps.empty()) throw dm::UsageError("--steps needs at least one step count");
    if (cfg.etas.empty()) throw dm::UsageError("--eta needs at least one value");

    dm::init_runtime(flags);
    const auto device = dm::pick_device(flags.device);
    const auto t_start = Clock::now();

    // ---- load the model ----
    Model model = load_model(cfg, flags, device);
    const std::int64_t T = model.T;
    const auto steps = step_counts(cfg, T, steps_opt->count() > 0);
    const auto etas = eta_values(cfg);
    Ddim ddim;
    ddim.eps = make_eps_fn(model.unet, model.alpha_bar, cfg.clip_x0);
    ddim.eps_plain = make_eps_fn(model.unet, model.alpha_bar, false);
    ddim.alpha_bar = model.alpha_bar;
    ddim.base.spacing = dm::ch05::parse_spacing(cfg.spacing);
    ddim.base.offset = cfg.offset;
    const auto ts_print = ddim.parts.timesteps(T, std::min<std::int64_t>(5, T), ddim.base.spacing, cfg.offset);  // 05.1
    std::string ts_s;
    for (auto t : ts_print) ts_s += fmt::format("{}{}", ts_s.empty() ? "" : ", ", t);
    fmt::print("spacing {} (offset {}): 5 steps visit t = {}\n", cfg.spacing, cfg.offset, ts_s);

    dm::RunDir run(flags.out_root, flags.chapter);
    auto& metrics = run.metrics();
    metrics["device"] = device.str();
    metrics["track"] = dm::track();
    metrics["quick"] = flags.quick;
    metrics["checkpoint"] = model.ckpt.string();
    metrics["T"] = T;
    metrics["schedule"] = model.schedule;
    metrics["spacing"] = cfg.spacing;
    metrics["clip_x0"] = cfg.clip_x0;
    metrics["threads"] = torch::get_num_threads();

    // ---- sample ----
    const std::int64_t decode_steps = std::min(cfg.decode_steps, T);
    auto gen = make_gen(flags.seed);
    auto x_fixed = torch::randn({16, 1, 28, 28}, gen).to(device);
    check_determinism(ddim, x_fixed, decode_steps, metrics);
    samples_by_steps(ddim, x_fixed.slice(0, 0, 9), steps, etas, flags.seed, run.file("samples_by_steps.png"));
    const auto test = dm::load_fashion_mnist(flags.data_dir, dm::Split::Test, cfg.inversion_images);
    invert_test_images(ddim, test.images.to(device), std::min(cfg.inversion_steps, T), run, metrics);
    interpolate(ddim, torch::randn({2, 1, 28, 28}, gen).to(device), cfg.interp_points, decode_steps, run, metrics);

    // ---- evaluate ----
    const auto fids = fid_vs_steps(ddim, cfg, steps, etas, T, flags, device, metrics);
    report_ratio(fids, std::min(cfg.ratio_steps, T), T, cfg.samples, metrics);

    // ---- plot ----
    plot_fid(fids, steps, etas, T, cfg.samples, run.file("fid_vs_steps.png"));

    const double seconds = std::chrono::duration<double>(Clock::now() - t_start).count();
    metrics["seconds"] = seconds;
    run.save_metrics();
    fmt::print(
        "wrote samples_by_steps.png, inversion.png, interpolation.png, fid_vs_steps.png, metrics.json to {} ({:.1f} "
        "s)\n",
        run.path().string(), seconds);
    return 0;
  });
}
