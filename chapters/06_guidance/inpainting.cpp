// Chapter 06, part 3: inpainting with chapter 03's unconditional model (inpainting.hpp).
//
//   replacement   at every reverse step the known pixels are the test image noised to the step's level (your
//                 06.8 around your 03.3's p_sample, on 03's respaced schedule)
//   RePaint       the same steps along your 06.10's order, going back up --jump levels by your 06.9 and down
//                 again, r times a stretch (your 06.11 walks it); r = 1 is replacement
// Each inpainted image is judged against the test image it came from: does the evaluation classifier still see
// its class, how far the hidden pixels are from the original's (RMSE, on [-1, 1]), and how large the jumps
// across the mask's edge are beside the original's own (the seam).
// Writes (in runs/06_guidance/)
//   inpaint_strip.png       per mask: original, the known pixels (hidden in grey), then each r
//   inpaint_process.png     the first mask's first image along the walk, a row per r (its first frame says
//                           which; captions: levels, "up" after a jump)
//   inpaint_agreement.png   class agreement with the original against network evaluations per image
#include "inpainting.hpp"

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <torch/torch.h>
#include <opencv2/core.hpp>

#include <algorithm>
#include <chrono>
#include <map>

#include "02_forward_noising/forward.hpp"
#include "03_ddpm/ddpm.hpp"
#include "03_ddpm/respace.hpp"
#include "06_guidance/inpainting.hpp"
#include "dm/data/fashion_mnist.hpp"
#include "dm/errors.hpp"
#include "dm/image.hpp"
#include "dm/nn/checkpoint.hpp"
#include "dm/nn/unet.hpp"
#include "dm/plot.hpp"
#include "program.hpp"

namespace ch06 {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// ANCHOR: inpaint_sampler
// One batch inpainted by RePaint on 03's respaced schedule: your 06.10's order, walked by your 06.11 with your
// 06.8 around your 03.3's p_sample (x0_hat clipped to [-1, 1], as every sampler of the course) and your 06.9;
// the network is asked at the original timesteps.
torch::Tensor repaint_batch(dm::nn::UNet& model, const dm::ch03::Respaced& r, const torch::Tensor& x_T,
                            const torch::Tensor& known, const torch::Tensor& mask, std::int64_t jump,
                            std::int64_t resamplings, std::uint64_t seed, const dm::ch06::RepaintCallback& on_move) {
  auto gen = make_gen(seed);
  auto noise = [&](const torch::Tensor& like) { return torch::randn(like.sizes(), gen).to(like.device()); };
  dm::ch06::InpaintStepParts step_parts;
  step_parts.reverse = [&](const torch::Tensor& x, std::int64_t k, const torch::Tensor& eps, const torch::Tensor& z) {
    return dm::ch03::p_sample(r.schedule, x, k, eps, z, dm::ch03::Variance::Beta, /*clip_x0=*/true);  // 03.3
  };
  step_parts.q_sample = dm::ch02::q_sample;  // 02.3
  dm::ch06::RepaintParts parts;
  parts.eps_theta = dm::ch03::at_original_timesteps(
      [&](const torch::Tensor& x, const torch::Tensor& t) { return model->forward(x, t); }, r);
  parts.step = [&](const torch::Tensor& x, std::int64_t k, const torch::Tensor& eps, const torch::Tensor& kn,
                   const torch::Tensor& m) {
    const auto z = noise(x), eps_known = noise(x);
    return dm::ch06::inpaint_step(step_parts, r.schedule, x, k, eps, z, kn, m, eps_known);  // 06.8
  };
  parts.jump = [&](const torch::Tensor& x, std::int64_t k, std::int64_t k_to) {
    return dm::ch06::q_jump(r.schedule, x, k, k_to, noise(x));  // 06.9
  };
  const auto levels = dm::ch06::repaint_schedule(r.schedule.T(), jump, resamplings);  // 06.10
  return dm::ch06::repaint(parts, levels, x_T, known, mask, on_move);                 // 06.11
}
// ANCHOR_END: inpaint_sampler

// A mean over images with its 95 % interval (normal approximation).
struct Mean {
  double value = 0, lo = 0, hi = 0;
};
Mean mean_ci(const torch::Tensor& v) {
  const auto d = v.to(torch::kFloat64);
  const double m = d.mean().item<double>(), n = double(d.numel());
  const double h = n > 1 ? 1.96 * d.std().item<double>() / std::sqrt(n) : 0.0;
  return {m, m - h, m + h};
}

// Per image: the hidden pixels' RMSE against the original, and the mean |difference| of the neighbouring pixel
// pairs (left-right and up-down) that straddle the mask's edge.
torch::Tensor hidden_rmse(const torch::Tensor& x, const torch::Tensor& original, const torch::Tensor& mask) {
  const auto hidden = (1 - mask).expand_as(x);
  return ((x - original).pow(2) * hidden).sum({1, 2, 3}).div(hidden.sum({1, 2, 3})).sqrt();
}
torch::Tensor seam(const torch::Tensor& x, const torch::Tensor& mask) {
  const auto m = mask.expand_as(x);
  auto pairs = [&](int dim) {
    const auto n = x.size(dim);
    const auto edge = (m.narrow(dim, 1, n - 1) != m.narrow(dim, 0, n - 1)).to(x.dtype());
    const auto diff = (x.narrow(dim, 1, n - 1) - x.narrow(dim, 0, n - 1)).abs();
    return std::make_pair((diff * edge).sum({1, 2, 3}), edge.sum({1, 2, 3}));
  };
  const auto [h, hn] = pairs(3);
  const auto [v, vn] = pairs(2);
  return (h + v) / (hn + vn).clamp_min(1);
}

// Images one above the other, the narrower padded with white on the right (a caption may widen a strip).
cv::Mat stack_rows(std::vector<cv::Mat> rows) {
  int width = 0;
  for (const auto& m : rows) width = std::max(width, m.cols);
  for (auto& m : rows)
    if (m.cols < width) cv::hconcat(m, cv::Mat(m.rows, width - m.cols, m.type(), cv::Scalar::all(255)), m);
  cv::Mat out;
  cv::vconcat(rows, out);
  return out;
}

struct Row {
  std::string name;  // "originals", "known pixels only", "r = 1 (replacement)", ...
  std::int64_t resamplings = 0, nfe = 0;
  torch::Tensor correct, rmse, seam_size, images;  // per image
  double wall = 0;
};

}  // namespace

const std::vector<std::string>& inpaint_mask_names() {
  static const std::vector<std::string> names = {"center", "bottom", "top", "left", "right"};
  return names;
}

torch::Tensor inpaint_mask(const std::string& name) {
  auto m = torch::ones({1, 1, 28, 28});
  if (name == "center")
    m.slice(2, 7, 21).slice(3, 7, 21).zero_();
  else if (name == "bottom")
    m.slice(2, 14, 28).zero_();
  else if (name == "top")
    m.slice(2, 0, 14).zero_();
  else if (name == "left")
    m.slice(3, 0, 14).zero_();
  else if (name == "right")
    m.slice(3, 14, 28).zero_();
  else
    throw dm::UsageError(
        fmt::format("--inpaint-masks: no mask \"{}\"; the masks are {}", name, fmt::join(inpaint_mask_names(), ", ")));
  return m;
}

nlohmann::json run_inpainting(const InpaintConfig& cfg, const dm::CommonFlags& flags, const torch::Device& device,
                              const dm::eval::Evaluator& ev, dm::RunDir& run) {
  const auto t_part = Clock::now();
  std::vector<torch::Tensor> masks;
  for (const auto& name : cfg.masks) masks.push_back(inpaint_mask(name).to(device));
  fmt::print("\n==== inpainting with the unconditional model {} ====\n", cfg.unconditional);
  auto loaded =
      dm::nn::load_model_file(cfg.unconditional, device, dm::ch03::sinusoidal_embedding_fn(), cfg.unconditional_sha256);
  if (loaded.config.num_classes > 0)
    throw dm::UserError(fmt::format(
        "--unconditional {}: a class-conditional model; inpainting here steers an unconditional one (chapter "
        "03's model.dmt)",
        cfg.unconditional));
  auto model = loaded.model;
  model->eval();
  const auto s = schedule_from(loaded.meta);
  if (cfg.steps > s.T())
    throw dm::UsageError(
        fmt::format("--inpaint-steps {}: the model has T = {} steps, so at most {}", cfg.steps, s.T(), s.T()));
  const auto r = dm::ch03::respace(s, cfg.steps);

  const auto test = dm::load_fashion_mnist(flags.data_dir, dm::Split::Test, cfg.images);
  const auto n = test.images.size(0);
  const auto originals = test.images;  // [n, 1, 28, 28] on the CPU
  const auto labels = test.labels;
  const auto x_T = torch::randn({n, 1, 28, 28}, make_gen(flags.seed + 21));  // the same for every mask and r
  auto judge = [&](const torch::Tensor& x) { return ev.probabilities(x).argmax(1) == labels; };
  fmt::print(
      "{} test images per mask; {} reverse steps (03's respacing of T = {}); jump = {} levels; r = {}; the "
      "same starting noise for every r\n",
      n, cfg.steps, s.T(), cfg.jump, fmt::join(cfg.resamplings, ", "));

  nlohmann::json out = nlohmann::json::object();
  nlohmann::json tables = nlohmann::json::array();
  std::vector<cv::Mat> blocks, process_rows;
  dm::Figure fig{fmt::format("inpainting: class agreement with the original (n = {} per point)", n),
                 "network evaluations per image", "agreement (evaluation classifier)"};
  const auto original_correct = judge(originals);
  for (std::size_t mi = 0; mi < masks.size(); ++mi) {
    const auto& mask = masks[mi];
    const auto mask_cpu = mask.cpu();
    std::vector<Row> rows;
    rows.push_back({"originals", 0, 0, original_correct, torch::zeros({n}), seam(originals, mask_cpu), originals, 0});
    const auto known_only = originals * mask_cpu - (1 - mask_cpu);  // hidden pixels at -1, the background
    rows.push_back({"known pixels only", 0, 0, judge(known_only), hidden_rmse(known_only, originals, mask_cpu),
                    seam(known_only, mask_cpu), known_only, 0});
    for (auto rs : cfg.resamplings) {
      const auto levels = dm::ch06::repaint_schedule(r.schedule.T(), cfg.jump, rs);  // 06.10
      std::int64_t nfe = 0;
      for (std::size_t i = 1; i < levels.size(); ++i) nfe += levels[i] < levels[i - 1] ? 1 : 0;
      // the first mask's first image along the walk: 9 frames, evenly spaced over the moves before the last,
      // then the image
      const auto moves = std::int64_t(levels.size()) - 1;
      std::vector<std::int64_t> at;
      for (std::int64_t f = 0; f < 9; ++f) at.push_back(1 + (f * std::max<std::int64_t>(moves - 2, 0) + 4) / 8);
      std::vector<cv::Mat> frames;
      std::vector<std::string> captions;
      std::int64_t move = 0;
      auto record = [&](std::int64_t level, const torch::Tensor& x) {
        ++move;
        if (std::find(at.begin(), at.end(), move) == at.end() || std::int64_t(frames.size()) >= 9) return;
        frames.push_back(dm::make_grid(x.slice(0, 0, 1).clamp(-1, 1).cpu(), 1, 0, 3));
        if (frames.size() == 1) dm::put_label(frames.back(), fmt::format("r = {}", rs));  // which row is which
        captions.push_back(fmt::format("{}{}", level, levels[std::size_t(move - 1)] < level ? " up" : ""));
      };
      const auto t0 = Clock::now();
      const auto images = sample_in_batches(n, cfg.batch, [&](std::int64_t start, std::int64_t len) {
        const bool watch = mi == 0 && start == 0;
        return repaint_batch(model, r, x_T.slice(0, start, start + len).to(device),
                             originals.slice(0, start, start + len).to(device), mask, cfg.jump, rs,
                             flags.seed + 23 + std::uint64_t(start),
                             watch ? dm::ch06::RepaintCallback(record) : nullptr);
      });
      Row row{rs == 1 ? "r = 1 (replacement)" : fmt::format("r = {} (RePaint)", rs),
              rs,
              nfe,
              judge(images),
              hidden_rmse(images, originals, mask_cpu),
              seam(images, mask_cpu),
              images,
              since(t0)};
      fmt::print("  {}, {}: {} network evaluations per image, {:.0f} s\n", cfg.masks[mi], row.name, nfe, row.wall);
      if (mi == 0) {
        frames.push_back(dm::make_grid(images.slice(0, 0, 1), 1, 0, 3));
        captions.push_back("image");
        process_rows.push_back(dm::labelled_strip(frames, captions));
      }
      rows.push_back(std::move(row));
    }

    // ANCHOR: inpaint_table
    const Row* base = cfg.resamplings.front() == 1 ? &rows[2] : nullptr;  // r = 1: replacement, the paired baseline
    fmt::print(
        "\nmask {} ({} of 784 pixels hidden) | n = {} test images | agreement: the evaluation classifier "
        "puts the image in the original's class\n",
        cfg.masks[mi], int((1 - mask_cpu).sum().item<double>()), n);
    fmt::print("{:<22} {:>5}  {:>21}  {:>24}  {:>21}  {:>24}  {:>21}\n", "", "NFE", "agreement [95 %]",
               "- replacement [95 %]", "hidden RMSE [95 %]", "- replacement [95 %]", "seam [95 %]");
    nlohmann::json table = nlohmann::json::array();
    std::vector<double> fx, fy, flo, fhi;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& row = rows[i];
      const auto a = wilson(row.correct.sum().item<double>(), double(n));
      const auto e = mean_ci(row.rmse), sm = mean_ci(row.seam_size);
      std::string vs = "-", vs_rmse = "-";
      nlohmann::json d, d_rmse;
      if (i > 2 && base != nullptr) {  // paired: the same images and starting noise as replacement
        const double b = (row.correct & ~base->correct).sum().item<double>();
        const double c = (~row.correct & base->correct).sum().item<double>();
        const auto p = paired_difference(b, c, double(n));
        vs = fmt::format("{:+.3f} [{:+.3f}, {:+.3f}]", p.value, p.lo, p.hi);
        d = {{"value", p.value}, {"ci", {p.lo, p.hi}}};
        const auto q = mean_ci(row.rmse - base->rmse);
        vs_rmse = fmt::format("{:+.3f} [{:+.3f}, {:+.3f}]", q.value, q.lo, q.hi);
        d_rmse = {{"value", q.value}, {"ci", {q.lo, q.hi}}};
      }
      fmt::print(
          "{:<22} {:>5}  {:.3f} [{:.3f}, {:.3f}]  {:>24}  {:.3f} [{:.3f}, {:.3f}]  {:>24}  {:.3f} [{:.3f}, {:.3f}]\n",
          row.name, row.nfe, a.value, a.lo, a.hi, vs, e.value, e.lo, e.hi, vs_rmse, sm.value, sm.lo, sm.hi);
      table.push_back({{"row", row.name},
                       {"resamplings", row.resamplings},
                       {"nfe", row.nfe},
                       {"agreement", a.value},
                       {"agreement_ci", {a.lo, a.hi}},
                       {"agreement_minus_replacement", d},
                       {"hidden_rmse", e.value},
                       {"hidden_rmse_ci", {e.lo, e.hi}},
                       {"hidden_rmse_minus_replacement", d_rmse},
                       {"seam", sm.value},
                       {"seam_ci", {sm.lo, sm.hi}},
                       {"wall_s", row.wall}});
      if (row.resamplings > 0)
        fx.push_back(double(row.nfe)), fy.push_back(a.value), flo.push_back(a.lo), fhi.push_back(a.hi);
    }
    fmt::print(
        "(NFE: U-Net evaluations per image; - replacement: the difference from r = 1 on the same images and "
        "starting noise, paired; hidden RMSE: against the original's pixels, on [-1, 1]; seam: mean |difference| of "
        "neighbouring pixels across the mask's edge, the originals' row for comparison; a difference whose "
        "interval holds 0 is not one)\n");
    // ANCHOR_END: inpaint_table
    dm::Style style;
    style.marker_radius = 4;
    if (!fx.empty()) fig.line(fx, fy, fmt::format("mask {}", cfg.masks[mi]), style).errors(flo, fhi);
    tables.push_back({{"mask", cfg.masks[mi]},
                      {"hidden_pixels", int((1 - mask_cpu).sum().item<double>())},
                      {"n", n},
                      {"rows", table}});

    // the strip: rows test images, columns original, known pixels (hidden in grey), each r
    const std::int64_t shown = std::min<std::int64_t>(n, 6);
    std::vector<cv::Mat> columns;
    std::vector<std::string> captions;
    auto column = [&](const torch::Tensor& x, const std::string& caption) {
      columns.push_back(dm::make_grid(x.slice(0, 0, shown), 1, 2, 3));
      captions.push_back(caption);
    };
    column(originals, "original");
    column(originals * mask_cpu, cfg.masks[mi] + " hidden");
    for (std::size_t i = 2; i < rows.size(); ++i) column(rows[i].images, fmt::format("r = {}", rows[i].resamplings));
    blocks.push_back(dm::labelled_strip(columns, captions));
  }
  if (!cfg.resamplings.empty()) {
    const double acc = wilson(original_correct.sum().item<double>(), double(n)).value;
    double top = 0;
    for (const auto& t : tables)
      for (const auto& row : t["rows"]) top = std::max(top, row.value("nfe", std::int64_t{0}) * 1.0);
    fig.line({0, top}, {acc, acc}, "the originals", dm::Style::dashed());
    fig.ylim(0, 1);
    fig.save(run.file("inpaint_agreement.png"));
    dm::save_png(run.file("inpaint_strip.png"), stack_rows(blocks));
    dm::save_png(run.file("inpaint_process.png"), stack_rows(process_rows));
  }
  out["masks"] = tables;
  out["steps"] = cfg.steps;
  out["jump"] = cfg.jump;
  out["resamplings"] = cfg.resamplings;
  out["model"] = cfg.unconditional;
  out["wall_s"] = since(t_part);
  fmt::print("inpainting: {:.1f} s in all\n", out["wall_s"].get<double>());
  return out;
}

}  // namespace ch06
