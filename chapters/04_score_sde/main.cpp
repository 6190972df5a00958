// Chapter 04: the score and SDE view.
//
// On the 8-component ring (dm::GaussianMixture2D::ring8), whose noised densities and scores are
// known in closed form: checks Tweedie's formula against Bayes, trains a small MLP eps-predictor,
// compares its score with the true one, and samples with annealed Langevin dynamics, the
// reverse-time SDE (Euler-Maruyama) and the probability-flow ODE (Euler, Heun) -- each with the
// EXACT score and with the learned one, so the sampler's error and the model's are seen apart.
//   runs/04_score_sde/score_field.png       true vs learned score arrows at four times t
//   runs/04_score_sde/score_error.png       score error of the model against t
//   runs/04_score_sde/samplers_vs_steps.png sliced Wasserstein and mode-weight error vs score evaluations
//   runs/04_score_sde/samples.png           samples of every sampler, exact and learned score
//   runs/04_score_sde/trajectories.mp4      particles from noise to the modes: PF-ODE vs reverse SDE
//   runs/04_score_sde/metrics.json
//
//   build/default/bin/solutions/04_score_sde --quick
//   build/default/bin/solutions/04_score_sde --train-steps 8000 --samples 10000
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/core.h>
#include <torch/torch.h>
#include <CLI/CLI.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "04_score_sde/evaluate.hpp"
#include "04_score_sde/param.hpp"
#include "04_score_sde/samplers.hpp"
#include "04_score_sde/score_model.hpp"
#include "04_score_sde/sde.hpp"
#include "04_score_sde/tweedie.hpp"
#include "dm/cli.hpp"
#include "dm/data/toy2d.hpp"
#include "dm/device.hpp"
#include "dm/errors.hpp"
#include "dm/plot.hpp"
#include "dm/progress.hpp"
#include "dm/run_dir.hpp"
#include "dm/runtime.hpp"
#include "dm/video.hpp"

namespace {

using namespace dm::ch04;

// ---- hyperparameters (each overridable by the flag named in its comment) --------------------------
struct Config {
  std::int64_t hidden = 128;                                       // --hidden: width of the MLP
  std::int64_t layers = 3;                                         // --layers: hidden layers of the MLP
  std::int64_t train_steps = 6000;                                 // --train-steps: Adam steps (quick: 1500)
  std::int64_t batch = 512;                                        // --batch: fresh mixture samples per step
  double lr = 2e-3;                                                // --lr: peak learning rate (linear decay to 5%)
  std::int64_t samples = 10000;                                    // --samples: particles per sampler run (quick: 2000)
  std::vector<std::int64_t> nfe = {8, 16, 32, 64, 128, 256, 512};  // --nfe: score evaluations (quick: up to 256)
  std::int64_t show_nfe = 128;                                     // --show-nfe: the budget drawn in samples.png
  double t_min = 1e-3;                                             // --t-min: where the samplers stop
  double langevin_snr = 0.4;                                       // --langevin-snr: r of the Langevin step size
  std::int64_t langevin_m = 2;                                     // --langevin-m: Langevin steps per noise level
  std::int64_t video_particles = 600;                              // --video-particles: particles in trajectories.mp4
  std::int64_t video_steps = 100;  // --video-steps: sampler steps (= frames) in the video
  double fps = 25;                 // --fps: video frame rate
};

// One colour per sampler (BGR, tab10), the same in every figure.
const std::map<Sampler, cv::Scalar> kColor = {{Sampler::Langevin, cv::Scalar(180, 119, 31)},
                                              {Sampler::ReverseSde, cv::Scalar(14, 127, 255)},
                                              {Sampler::PfOdeEuler, cv::Scalar(44, 160, 44)},
                                              {Sampler::PfOdeHeun, cv::Scalar(40, 39, 214)}};
const cv::Scalar kTrue(180, 119, 31), kLearned(14, 127, 255), kGray(150, 150, 150);

std::vector<double> column(const torch::Tensor& x, int c) {
  auto v = x.select(1, c).to(torch::kFloat64).contiguous();
  return {v.data_ptr<double>(), v.data_ptr<double>() + v.numel()};
}

// ANCHOR: arrows
// Arrows from every grid point p to p + v(p), as one line series (NaN breaks the polyline):
// a shaft and two strokes of a head. Drawn in data coordinates, so the figure needs equal axes.
void add_arrows(dm::Figure& fig, const torch::Tensor& p, const torch::Tensor& v, const std::string& label,
                const cv::Scalar& color) {
  const double nan = std::nan("");
  std::vector<double> xs, ys;
  const auto P = p.to(torch::kFloat64).contiguous(), V = v.to(torch::kFloat64).contiguous();
  for (std::int64_t i = 0; i < P.size(0); ++i) {
    const double x0 = P[i][0].item<double>(), y0 = P[i][1].item<double>();
    const double dx = V[i][0].item<double>(), dy = V[i][1].item<double>(), len = std::hypot(dx, dy);
    if (len < 1e-6) continue;
    const double x1 = x0 + dx, y1 = y0 + dy, hl = 0.35 * len, c = std::cos(0.45), s = std::sin(0.45);
    const double ux = -dx / len * hl, uy = -dy / len * hl;  // back along the shaft
    xs.insert(xs.end(), {x0, x1, nan, x1 + c * ux - s * uy, x1, x1 + c * ux + s * uy, nan});
    ys.insert(ys.end(), {y0, y1, nan, y1 + s * ux + c * uy, y1, y1 - s * ux + c * uy, nan});
  }
  dm::Style st;
  st.color = color;
  st.thickness = 1;
  fig.line(xs, ys, label, st);
}
// ANCHOR_END: arrows

struct RunResult {
  double sw = 0, tv = 0, off_mode = 0, seconds = 0;
  torch::Tensor weights, x;
};

int run(dm::CommonFlags flags, const Config& cfg) {
  // A 2-D MLP on batches of a few thousand rows: more threads only add synchronisation.
  if (flags.threads == 0) flags.threads = 1;
  dm::init_runtime(flags);
  const auto device = dm::pick_device(flags.device);
  if (device.is_cuda())
    fmt::print("note: the 2-D models of this chapter run on the CPU (faster than kernel launches)\n");
  const auto t_start = std::chrono::steady_clock::now();
  const VpSde sde;
  const auto gm = dm::GaussianMixture2D::ring8();
  const auto K = gm.weights.size(0);
  dm::RunDir run_dir(flags.out_root, flags.chapter);
  auto& metrics = run_dir.metrics();
  metrics["track"] = dm::track();
  metrics["sde"] = {{"beta_min", sde.beta_min}, {"beta_max", sde.beta_max}, {"alpha_bar_1", sde.alpha_bar(1.0)}};
  fmt::print("VP-SDE: beta(t) = {:g} + t ({:g} - {:g}), alpha_bar(1) = {:.3g}, sigma(t_min = {:g}) = {:.4f}\n",
             sde.beta_min, sde.beta_max, sde.beta_min, sde.alpha_bar(1.0), cfg.t_min, sde.sigma(cfg.t_min));
  fmt::print("data: ring of {} Gaussians, radius 4, std 0.3, weights (k + 1) / 36 = {:.4f} .. {:.4f}\n", K,
             gm.weights[0].item<double>(), gm.weights[K - 1].item<double>());

  // ---- 1. Tweedie's formula and eps = -sigma score, where everything is exact --------------------
  // ANCHOR: tweedie_check
  {
    auto& m = metrics["tweedie"];
    const auto xt = 3 * torch::randn({2000, 2}, torch::kFloat64);
    for (double t : {0.05, 0.3, 0.7}) {
      const double ab = sde.alpha_bar(t);
      const auto score = gm.noised(ab).score(xt);                // exact grad log p_t
      const auto x0_tweedie = tweedie_x0(xt, score, ab);         // 04.2
      const auto x0_bayes = mixture_posterior_mean(gm, xt, ab);  // 04.2, by Bayes
      const auto abt = torch::tensor(ab, torch::kFloat64);
      const auto eps = convert(Prediction::Score, Prediction::Eps, score, xt, abt);  // 04.1: -sigma score
      const auto x0_conv = convert(Prediction::Eps, Prediction::X0, eps, xt, abt);   // 04.1: (x_t - s eps) / a
      const double d1 = (x0_tweedie - x0_bayes).abs().max().item<double>();
      const double d2 = (x0_conv - x0_bayes).abs().max().item<double>();
      fmt::print("t = {:.2f}: max |Tweedie - Bayes E[x0|x_t]| = {:.2e}, via eps = -sigma score: {:.2e}\n", t, d1, d2);
      m[fmt::format("t={:.2f}", t)] = {{"tweedie_vs_bayes", d1}, {"via_eps", d2}};
    }
  }
  // ANCHOR_END: tweedie_check

  // ---- 2. train the denoiser -----------------------------------------------------------------------
  ScoreMlp model(cfg.hidden, cfg.layers);
  TrainOptions topt;
  topt.steps = cfg.train_steps;
  topt.batch = cfg.batch;
  topt.lr = cfg.lr;
  topt.t_min = cfg.t_min;
  fmt::print("model: MLP {} x {}, {} parameters; training {} steps of {} fresh samples\n", cfg.layers, cfg.hidden,
             parameter_count(*model), cfg.train_steps, cfg.batch);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(flags.seed + 1);
  const auto t_train = std::chrono::steady_clock::now();
  double running = 0;
  {
    dm::Progress bar("train", cfg.train_steps);
    const auto losses = train_denoiser(model, gm, sde, topt, gen, [&](std::int64_t step, double loss) {
      running = step == 0 ? loss : 0.98 * running + 0.02 * loss;
      if (step % 50 == 0 || step + 1 == cfg.train_steps) bar.update(step + 1, running);
    });
    bar.finish();
    double tail = 0;
    const std::size_t last = std::min<std::size_t>(200, losses.size());
    for (std::size_t i = losses.size() - last; i < losses.size(); ++i) tail += losses[i] / double(last);
    const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_train).count();
    fmt::print("train: final loss (mean of last {}) = {:.4f}, {:.1f} s ({:.0f} steps/s)\n", last, tail, train_s,
               double(cfg.train_steps) / train_s);
    metrics["train"] = {{"steps", cfg.train_steps},
                        {"batch", cfg.batch},
                        {"final_loss", tail},
                        {"seconds", train_s},
                        {"params", parameter_count(*model)}};
  }
  const auto exact = exact_score(gm, sde);
  // ANCHOR: learned_score
  // The network predicts eps; the samplers want the score: 04.1 converts.
  ScoreFn learned = [&](const torch::Tensor& x, double t) {
    torch::NoGradGuard no_grad;
    const auto eps = model->forward(x.to(torch::kFloat32), torch::full({1}, t)).to(x.scalar_type());
    return convert(Prediction::Eps, Prediction::Score, eps, x, torch::tensor(sde.alpha_bar(t), torch::kFloat64));
  };
  // ANCHOR_END: learned_score

  // ---- 3. learned vs true score: error per t, and the field at four times --------------------------
  {
    std::vector<double> ts, rel, eps_err;
    for (int i = 0; i <= 30; ++i) {
      const double t = cfg.t_min * std::pow(1.0 / cfg.t_min, i / 30.0);  // log-spaced t_min .. 1
      const auto gm_t = gm.noised(sde.alpha_bar(t));
      const auto x = gm_t.sample(4000);  // x ~ p_t
      const auto s_true = gm_t.score(x).to(torch::kFloat64), s_model = learned(x, t).to(torch::kFloat64);
      const double err = (s_model - s_true).square().sum(1).mean().item<double>();
      ts.push_back(t);
      rel.push_back(err / s_true.square().sum(1).mean().item<double>());
      eps_err.push_back(sde.sigma(t) * sde.sigma(t) * err);  // the same error in eps units
    }
    dm::Figure fig("score error of the model on x ~ p_t", "t", "error");
    fig.logx().logy();
    fig.line(ts, rel, "relative: E|s_model - s|^2 / E|s|^2");
    fig.line(ts, eps_err, "in eps units: sigma_t^2 E|s_model - s|^2", dm::Style::dashed());
    fig.save(run_dir.file("score_error.png"));
    auto& m = metrics["score_error"];
    m["t"] = ts;
    m["relative"] = rel;
    m["eps_units"] = eps_err;
    for (std::size_t i : {std::size_t(0), std::size_t(10), std::size_t(20), std::size_t(30)})
      fmt::print("score error at t = {:.3g}: relative {:.4f}, in eps units {:.4f}\n", ts[i], rel[i], eps_err[i]);

    // ANCHOR: score_field
    // Arrows of -sigma_t score (= the best eps prediction, O(1) at every t), true vs learned.
    const int G = 17;
    const double lim = 6, spacing = 2 * lim / (G - 1);
    const auto g = torch::linspace(-lim + spacing / 2, lim - spacing / 2, G - 1, torch::kFloat64);
    const auto grid = torch::stack({g.repeat({G - 1}), g.repeat_interleave(G - 1)}, 1);  // [(G-1)^2, 2]
    std::vector<cv::Mat> panels;
    for (double t : {0.02, 0.1, 0.3, 0.7}) {
      const auto gm_t = gm.noised(sde.alpha_bar(t));
      const double scale = 0.45 * spacing * sde.sigma(t);  // arrow = 0.45 spacing per unit of eps
      auto clip = [&](torch::Tensor v) {                   // longest arrow: 0.95 spacing
        const auto len = v.norm(2, 1, true).clamp_min(1e-12);
        return v * (len.clamp_max(0.95 * spacing) / len);
      };
      dm::Figure panel(fmt::format("t = {:g}: -sigma_t score, true vs learned", t), "x", "y", 560, 560);
      panel.equal_aspect().xlim(-lim, lim).ylim(-lim, lim);
      const auto pts = gm_t.sample(1500);
      auto faint = dm::Style::points(2, 0.25);
      faint.color = kGray;
      panel.scatter(column(pts, 0), column(pts, 1), "x ~ p_t", faint);
      add_arrows(panel, grid, clip(scale * gm_t.score(grid)), "true", kTrue);
      add_arrows(panel, grid, clip(scale * learned(grid, t)), "learned", kLearned);
      panels.push_back(panel.render());
    }
    cv::Mat out;
    cv::vconcat(dm::hstack({panels[0], panels[1]}), dm::hstack({panels[2], panels[3]}), out);
    dm::save_png(run_dir.file("score_field.png"), out);
    // ANCHOR_END: score_field
  }

  // ---- 4. samplers against the number of score evaluations, exact and learned score ---------------
  const auto fresh = gm.sample(cfg.samples), fresh2 = gm.sample(cfg.samples);
  const double sw_floor = sliced_wasserstein(fresh, fresh2);
  const double tv_floor = total_variation(mode_weights(fresh, gm.means), gm.weights);
  fmt::print("floor (two fresh sets of {} data samples): sliced W1 = {:.4f}, mode TV = {:.4f}\n", cfg.samples, sw_floor,
             tv_floor);
  metrics["floor"] = {{"sliced_w1", sw_floor}, {"mode_tv", tv_floor}, {"samples", cfg.samples}};
  SamplerOptions sopt;
  sopt.t_min = cfg.t_min;
  sopt.langevin_snr = cfg.langevin_snr;
  sopt.langevin_m = cfg.langevin_m;
  const auto x1 = torch::randn({cfg.samples, 2});  // the same noise for every run
  std::map<std::string, std::map<Sampler, std::vector<RunResult>>> results;
  // ANCHOR: sampler_sweep
  const SamplerSteps steps = exercise_steps();  // your steps of 04.3-04.5, looped by your run_sampler (04.7)
  for (const auto& [which, score] :
       std::vector<std::pair<std::string, ScoreFn>>{{"exact", exact}, {"learned", learned}})
    for (auto sampler : kSamplers)
      for (auto nfe : cfg.nfe) {
        sopt.nfe = nfe;
        const auto t0 = std::chrono::steady_clock::now();
        auto g_run = at::make_generator<at::CPUGeneratorImpl>(flags.seed + 7);
        RunResult r;
        r.x = run_sampler(sampler, steps, sde, score, x1, sopt, torch_noise(g_run));
        r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        r.sw = sliced_wasserstein(r.x, fresh);
        r.weights = mode_weights(r.x, gm.means);
        r.tv = total_variation(r.weights, gm.weights);
        r.off_mode = off_mode_fraction(r.x, gm.means, 1.0);
        results[which][sampler].push_back(r);
      }
  // ANCHOR_END: sampler_sweep
  auto& msamp = metrics["samplers"];
  std::vector<double> nfe_axis(cfg.nfe.begin(), cfg.nfe.end());
  dm::Figure fig_sw("sliced Wasserstein to fresh data (solid: exact score, dashed: learned)", "score evaluations",
                    "sliced W1");
  dm::Figure fig_tv("mode-weight error (total variation)", "score evaluations", "TV(mode weights)");
  fig_sw.logx().logy();
  fig_tv.logx().logy();
  std::string nfe_list;
  for (auto n : cfg.nfe) nfe_list += (nfe_list.empty() ? "" : ",") + std::to_string(n);
  for (const auto& [which, per] : results) {
    for (const auto& [sampler, runs] : per) {
      std::vector<double> sw, tv;
      auto& m = msamp[which][sampler_name(sampler)];
      for (std::size_t i = 0; i < runs.size(); ++i) {
        sw.push_back(runs[i].sw);
        tv.push_back(std::max(runs[i].tv, 1e-4));
        m["nfe"].push_back(cfg.nfe[i]);
        m["sliced_w1"].push_back(runs[i].sw);
        m["mode_tv"].push_back(runs[i].tv);
        m["off_mode"].push_back(runs[i].off_mode);
        m["seconds"].push_back(runs[i].seconds);
        std::vector<double> w(static_cast<std::size_t>(K));
        for (std::int64_t k = 0; k < K; ++k) w[std::size_t(k)] = runs[i].weights[k].item<double>();
        m["mode_weights"].push_back(w);
      }
      dm::Style st = which == "exact" ? dm::Style{} : dm::Style::dashed();
      st.color = kColor.at(sampler);
      const std::string label = which == "exact" ? sampler_name(sampler) : "";
      fig_sw.line(nfe_axis, sw, label, st);
      fig_tv.line(nfe_axis, tv, label, st);
      std::string row;
      for (std::size_t i = 0; i < runs.size(); ++i) row += fmt::format(" {:>7.4f}", runs[i].sw);
      fmt::print("{:<8} {:<13} sliced W1 at nfe {}:{}\n", which, sampler_name(sampler), nfe_list, row);
    }
  }
  for (const auto& [which, per] : results)
    for (const auto& [sampler, runs] : per)
      fmt::print("{:<8} {:<13} mode TV at nfe {}: {:.4f} (off-mode {:.4f}), at nfe {}: {:.4f}\n", which,
                 sampler_name(sampler), cfg.nfe.front(), runs.front().tv, runs.front().off_mode, cfg.nfe.back(),
                 runs.back().tv);
  auto floor_style = dm::Style::thin(0.9);
  floor_style.color = kGray;
  fig_sw.line({nfe_axis.front(), nfe_axis.back()}, {sw_floor, sw_floor}, "data vs data", floor_style);
  fig_tv.line({nfe_axis.front(), nfe_axis.back()}, {tv_floor, tv_floor}, "data vs data", floor_style);
  dm::save_png(run_dir.file("samplers_vs_steps.png"), dm::hstack({fig_sw.render(), fig_tv.render()}));

  // samples.png: data, then every sampler at show_nfe; top row exact score, bottom row learned
  {
    const auto it = std::find(cfg.nfe.begin(), cfg.nfe.end(), cfg.show_nfe);
    const std::size_t idx = it == cfg.nfe.end() ? cfg.nfe.size() - 1 : std::size_t(it - cfg.nfe.begin());
    const std::int64_t shown = std::min<std::int64_t>(cfg.samples, 3000);
    std::vector<cv::Mat> rows;
    for (const std::string which : {"exact", "learned"}) {
      std::vector<cv::Mat> cells;
      dm::Figure data_fig(fmt::format("data ({} samples)", shown), "x", "y", 400, 400);
      auto pts_style = dm::Style::points(1, 0.5);
      pts_style.color = kGray;
      data_fig.equal_aspect().xlim(-6, 6).ylim(-6, 6).scatter(column(fresh.slice(0, 0, shown), 0),
                                                              column(fresh.slice(0, 0, shown), 1), "", pts_style);
      cells.push_back(data_fig.render());
      for (auto sampler : kSamplers) {
        const auto& r = results[which][sampler][idx];
        dm::Figure f(fmt::format("{} score, {}, nfe {}", which, sampler_name(sampler), cfg.nfe[idx]), "x", "y", 400,
                     400);
        auto st = dm::Style::points(1, 0.5);
        st.color = kColor.at(sampler);
        f.equal_aspect().xlim(-6, 6).ylim(-6, 6).scatter(column(r.x.slice(0, 0, shown), 0),
                                                         column(r.x.slice(0, 0, shown), 1), "", st);
        cells.push_back(f.render());
      }
      rows.push_back(dm::hstack(cells));
    }
    cv::Mat out;
    cv::vconcat(rows, out);
    dm::save_png(run_dir.file("samples.png"), out);
  }

  // ---- 5. the trajectory video: PF-ODE (Heun) vs reverse SDE, learned score ------------------------
  // ANCHOR: trajectories
  {
    const auto xv = x1.slice(0, 0, cfg.video_particles);
    std::vector<torch::Tensor> path_ode, path_sde;
    SamplerOptions vopt = sopt;
    vopt.keep_every = 1;
    vopt.nfe = 2 * cfg.video_steps;  // Heun: 2 evaluations a step -> video_steps steps
    run_sampler(Sampler::PfOdeHeun, steps, sde, learned, xv, vopt, /*noise=*/nullptr, &path_ode);
    vopt.nfe = cfg.video_steps;
    auto g_video = at::make_generator<at::CPUGeneratorImpl>(flags.seed + 9);
    run_sampler(Sampler::ReverseSde, steps, sde, learned, xv, vopt, torch_noise(g_video), &path_sde);
    // colour each particle by the mode it ends in
    auto mode_of = [&](const torch::Tensor& x) { return torch::cdist(x.to(torch::kFloat64), gm.means).argmin(1); };
    const auto end_ode = mode_of(path_ode.back()), end_sde = mode_of(path_sde.back());
    const std::array<cv::Scalar, 8> palette = {
        cv::Scalar(180, 119, 31),  cv::Scalar(14, 127, 255), cv::Scalar(44, 160, 44),   cv::Scalar(40, 39, 214),
        cv::Scalar(189, 103, 148), cv::Scalar(75, 86, 140),  cv::Scalar(194, 119, 227), cv::Scalar(34, 189, 188)};
    auto panel = [&](const torch::Tensor& x, const torch::Tensor& ends, const std::string& title) {
      dm::Figure f(title, "x", "y", 480, 480);
      f.equal_aspect().xlim(-6, 6).ylim(-6, 6);
      for (std::int64_t k = 0; k < K; ++k) {
        const auto sel = x.index({ends == k});
        auto st = dm::Style::points(2, 0.7);
        st.color = palette[std::size_t(k)];
        if (sel.size(0) > 0) f.scatter(column(sel, 0), column(sel, 1), "", st);
      }
      return f.render();
    };
    const double h = (1 - cfg.t_min) / double(cfg.video_steps);
    auto frame_at = [&](std::size_t k) {
      const double t = 1 - double(k) * h;
      return dm::hstack({panel(path_ode[k], end_ode, fmt::format("probability-flow ODE (Heun), t = {:.3f}", t)),
                         panel(path_sde[k], end_sde, fmt::format("reverse SDE (Euler-Maruyama), t = {:.3f}", t))});
    };
    auto first = frame_at(0);
    dm::VideoWriter video(run_dir.file("trajectories.mp4"), cfg.fps, first.size());
    for (int i = 0; i < int(cfg.fps / 2); ++i) video.write(first);  // hold the noise for half a second
    for (std::size_t k = 1; k < path_ode.size() && k < path_sde.size(); ++k) video.write(frame_at(k));
    const auto last = frame_at(std::min(path_ode.size(), path_sde.size()) - 1);
    for (int i = 0; i < int(cfg.fps); ++i) video.write(last);  // hold the samples for a second
    const int frames = video.frames();
    video.close();
    fmt::print("trajectories.mp4: {} particles, {} steps, {} frames at {:g} fps ({})\n", cfg.video_particles,
               cfg.video_steps, frames, cfg.fps, video.codec());
    metrics["video"] = {{"frames", frames}, {"codec", video.codec()}, {"particles", cfg.video_particles}};
  }
  // ANCHOR_END: trajectories

  // ---- 6. min-SNR-gamma weights (04.6) along t -----------------------------------------------------
  {
    std::vector<double> ts = {0.01, 0.1, 0.3, 0.5, 0.9};
    auto t_tensor = torch::tensor(ts, torch::kFloat64);
    const auto ab = sde.alpha_bar(t_tensor), snr = ab / (1 - ab);
    for (auto kind : {Prediction::Eps, Prediction::X0, Prediction::V}) {
      const auto w = min_snr_weight(snr, 5.0, kind);
      std::string row;
      for (std::size_t i = 0; i < ts.size(); ++i) row += fmt::format(" {:.3g}", w[std::int64_t(i)].item<double>());
      fmt::print("min-SNR-5 weights for {}-prediction at t = 0.01, 0.1, 0.3, 0.5, 0.9:{}\n", name(kind), row);
      std::vector<double> wv(ts.size());
      for (std::size_t i = 0; i < ts.size(); ++i) wv[i] = w[std::int64_t(i)].item<double>();
      metrics["min_snr_5"][name(kind)] = wv;
    }
  }

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  metrics["seconds"] = seconds;
  run_dir.save_metrics();
  fmt::print(
      "wrote score_field.png, score_error.png, samplers_vs_steps.png, samples.png, trajectories.mp4, metrics.json "
      "to {} ({:.1f} s)\n",
      run_dir.path().string(), seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chapter 04: the score and SDE view - Tweedie, a learned score, Langevin / reverse SDE / PF-ODE"};
  app.name("04_score_sde");
  dm::CommonFlags flags{"04_score_sde"};
  dm::add_common_flags(app, flags);
  Config cfg;
  app.add_option("--hidden", cfg.hidden, "Width of the MLP (8..1024)")->capture_default_str();
  app.add_option("--layers", cfg.layers, "Hidden layers of the MLP (1..8)")->capture_default_str();
  auto* steps = app.add_option("--train-steps", cfg.train_steps, "Adam steps (>= 1)")->capture_default_str();
  app.add_option("--batch", cfg.batch, "Fresh samples per training step (>= 8)")->capture_default_str();
  app.add_option("--lr", cfg.lr, "Peak learning rate")->capture_default_str();
  auto* samples = app.add_option("--samples", cfg.samples, "Particles per sampler run (>= 100)")->capture_default_str();
  auto* nfe = app.add_option("--nfe", cfg.nfe, "Score evaluations per sampler run (each >= 4)")->delimiter(',');
  app.add_option("--show-nfe", cfg.show_nfe, "The budget drawn in samples.png (one of --nfe)")->capture_default_str();
  app.add_option("--t-min", cfg.t_min, "Where the samplers stop, in (0, 0.5)")->capture_default_str();
  app.add_option("--langevin-snr", cfg.langevin_snr, "Langevin step-size ratio r, in (0, 1]")->capture_default_str();
  app.add_option("--langevin-m", cfg.langevin_m, "Langevin steps per noise level (1..16)")->capture_default_str();
  app.add_option("--video-particles", cfg.video_particles, "Particles in trajectories.mp4 (1..5000)")
      ->capture_default_str();
  app.add_option("--video-steps", cfg.video_steps, "Sampler steps (frames) in trajectories.mp4 (2..1000)")
      ->capture_default_str();
  app.add_option("--fps", cfg.fps, "Video frame rate")->capture_default_str();

  return dm::run_main(app, argc, argv, [&] {
    if (flags.quick) {  // small sizes, unless a flag says otherwise
      if (steps->count() == 0) cfg.train_steps = 1500;
      if (samples->count() == 0) cfg.samples = 2000;
      if (nfe->count() == 0) cfg.nfe = {8, 16, 32, 64, 128, 256};
    }
    if (cfg.hidden < 8 || cfg.hidden > 1024)
      throw dm::UsageError(fmt::format("--hidden must be in 8..1024, got {}", cfg.hidden));
    if (cfg.layers < 1 || cfg.layers > 8)
      throw dm::UsageError(fmt::format("--layers must be in 1..8, got {}", cfg.layers));
    if (cfg.train_steps < 1) throw dm::UsageError(fmt::format("--train-steps must be >= 1, got {}", cfg.train_steps));
    if (cfg.batch < 8) throw dm::UsageError(fmt::format("--batch must be >= 8, got {}", cfg.batch));
    if (!(cfg.lr > 0 && cfg.lr < 1)) throw dm::UsageError(fmt::format("--lr must be in (0, 1), got {}", cfg.lr));
    if (cfg.samples < 100) throw dm::UsageError(fmt::format("--samples must be >= 100, got {}", cfg.samples));
    if (cfg.nfe.empty()) throw dm::UsageError("--nfe needs at least one value");
    for (auto n : cfg.nfe)
      if (n < 4 || n > 100000) throw dm::UsageError(fmt::format("every --nfe must be in 4..100000, got {}", n));
    std::sort(cfg.nfe.begin(), cfg.nfe.end());
    if (!(cfg.t_min > 0 && cfg.t_min < 0.5))
      throw dm::UsageError(fmt::format("--t-min must be in (0, 0.5), got {}", cfg.t_min));
    if (!(cfg.langevin_snr > 0 && cfg.langevin_snr <= 1))
      throw dm::UsageError(fmt::format("--langevin-snr must be in (0, 1], got {}", cfg.langevin_snr));
    if (cfg.langevin_m < 1 || cfg.langevin_m > 16)
      throw dm::UsageError(fmt::format("--langevin-m must be in 1..16, got {}", cfg.langevin_m));
    if (cfg.video_particles < 1 || cfg.video_particles > 5000)
      throw dm::UsageError(fmt::format("--video-particles must be in 1..5000, got {}", cfg.video_particles));
    if (cfg.video_steps < 2 || cfg.video_steps > 1000)
      throw dm::UsageError(fmt::format("--video-steps must be in 2..1000, got {}", cfg.video_steps));
    if (!(cfg.fps > 0 && cfg.fps <= 120))
      throw dm::UsageError(fmt::format("--fps must be in (0, 120], got {}", cfg.fps));
    return run(flags, cfg);
  });
}
