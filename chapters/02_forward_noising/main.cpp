// Chapter 02: forward noising.
//
// Builds the linear, cosine and sigmoid beta schedules, prints alpha_bar, SNR and the
// posterior variance beta_tilde, checks that x_T of real Fashion-MNIST images is close to
// N(0, I), runs the iterated chain against the closed form q(x_t | x_0), and draws:
//   runs/02_forward_noising/schedules.png             alpha_bar_t of each schedule
//   runs/02_forward_noising/snr.png                   log SNR(t)
//   runs/02_forward_noising/chain_vs_closed_form.png  mean and variance: iterated chain vs closed form
//   runs/02_forward_noising/strip.png                 Fashion-MNIST at t = 0, T/4, T/2, 3T/4, T-1
//   runs/02_forward_noising/noising.mp4               a grid of images going t = 0 -> T-1 (the chain)
//   runs/02_forward_noising/metrics.json
//
//   build/default/bin/solutions/02_forward_noising --quick
//   build/default/bin/solutions/02_forward_noising --schedule cosine -T 500
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/core.h>
#include <torch/types.h>
#include <CLI/CLI.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "02_forward_noising/chain.hpp"
#include "02_forward_noising/forward.hpp"
#include "02_forward_noising/posterior.hpp"
#include "02_forward_noising/schedule.hpp"
#include "dm/cli.hpp"
#include "dm/data/fashion_mnist.hpp"
#include "dm/device.hpp"
#include "dm/errors.hpp"
#include "dm/image.hpp"
#include "dm/plot.hpp"
#include "dm/run_dir.hpp"
#include "dm/runtime.hpp"
#include "dm/video.hpp"

namespace {

using dm::ch02::Schedule;

// ---- hyperparameters (each overridable by the flag named in its comment) --------------------------
struct Config {
  std::string schedule = "all";       // --schedule: linear | cosine | sigmoid | all
  std::int64_t T = 1000;              // -T: number of forward steps (DDPM's 1000)
  std::int64_t images = 16;           // --images: images in the video grid (quick: 9)
  std::int64_t stat_images = 512;     // --stat-images: images for the x_T ~ N(0, I) check (quick: 128)
  std::int64_t chain_draws = 100000;  // --chain-draws: draws of the iterated chain, per schedule (quick: 4000)
  double chain_x0 = 1.0;              // --chain-x0: the starting pixel value of those draws (1 = white)
  std::int64_t frames = 150;          // --frames: video frames from x_0 to x_{T-1} (quick: 50)
  double fps = 25;                    // --fps: video frame rate
  std::int64_t beta_tilde_at = 487;   // --beta-tilde-at: where beta_tilde is printed (diffusers pins 487)
};

// One colour per schedule, the same in every figure (BGR, tab10).
const std::map<std::string, cv::Scalar> kColor = {
    {"linear", cv::Scalar(180, 119, 31)}, {"cosine", cv::Scalar(14, 127, 255)}, {"sigmoid", cv::Scalar(44, 160, 44)}};

std::vector<double> to_vector(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
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
  const auto sz = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, 0.6, 1, &base);
  cv::putText(panel, text, cv::Point(8, (like.rows + sz.height) / 2), cv::FONT_HERSHEY_SIMPLEX, 0.6,
              kColor.count(text) ? kColor.at(text) : cv::Scalar::all(0), 2, cv::LINE_AA);
  return panel;
}

// 02.5's q_step with the schedule s bound: one step of s's chain, for q_chain (02.6).
dm::ch02::ForwardStep step_of(const Schedule& s) {
  return [s](const torch::Tensor& x_prev, const torch::Tensor& t, const torch::Tensor& z) {
    return dm::ch02::q_step(s, x_prev, t, z);
  };
}

// A generator of its own for step t's noise, seeded from (the program's seed, t): a chain run
// with it draws the same noise at step t whatever ran before, so every schedule sees the same draws.
at::Generator step_generator(std::uint64_t seed, std::int64_t t) {
  return at::make_generator<at::CPUGeneratorImpl>((seed + 1) * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(t));
}

// Moves a schedule to `device` (still float64).
Schedule to_device(const Schedule& s, torch::Device device) {
  return Schedule{s.beta.to(device), s.alpha.to(device), s.alpha_bar.to(device)};
}

struct ChainStats {
  std::vector<double> t, mean_chain, var_chain, mean_exact, var_exact;
  double max_z_mean = 0, max_z_var = 0;  // largest |difference| in standard errors over all t
};

// ANCHOR: chain_vs_closed_form
// Runs n scalar draws of the chain from x0 through every step and compares, at every t, the
// sample mean and variance with the closed form sqrt(alpha_bar) x0 and 1 - alpha_bar.
ChainStats chain_vs_closed_form(const Schedule& s, std::int64_t n, double x0, torch::Device device) {
  ChainStats st;
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64).device(device);
  std::vector<torch::Tensor> means, vars;
  auto fresh_noise = [](const torch::Tensor& x, std::int64_t) { return torch::randn_like(x); };
  auto record = [&](std::int64_t, const torch::Tensor& x_t) {  // after every step
    means.push_back(x_t.mean());
    vars.push_back(x_t.var());
  };
  dm::ch02::q_chain(step_of(s), torch::full({n, 1}, x0, opts), s.T() - 1, fresh_noise, record);  // x0: [n, 1]
  const auto mean = to_vector(torch::stack(means)), var = to_vector(torch::stack(vars));
  const auto ab = to_vector(s.alpha_bar);
  for (std::size_t t = 0; t < ab.size(); ++t) {
    const double m_exact = std::sqrt(ab[t]) * x0, v_exact = 1 - ab[t];
    st.t.push_back(double(t));
    st.mean_chain.push_back(mean[t]);
    st.var_chain.push_back(var[t]);
    st.mean_exact.push_back(m_exact);
    st.var_exact.push_back(v_exact);
    st.max_z_mean = std::max(st.max_z_mean, std::abs(mean[t] - m_exact) / std::sqrt(v_exact / double(n)));
    st.max_z_var = std::max(st.max_z_var, std::abs(var[t] - v_exact) / (v_exact * std::sqrt(2.0 / double(n - 1))));
  }
  return st;
}
// ANCHOR_END: chain_vs_closed_form

int run(const dm::CommonFlags& flags, Config cfg) {
  dm::init_runtime(flags);
  const auto device = dm::pick_device(flags.device);  // prints its choice
  const auto t_start = std::chrono::steady_clock::now();

  std::vector<std::string> names;
  if (cfg.schedule == "all")
    names.assign(dm::ch02::kScheduleNames.begin(), dm::ch02::kScheduleNames.end());
  else
    names.push_back(cfg.schedule);

  // Data first, so a missing dataset is reported before any work.
  const auto data = dm::load_fashion_mnist(flags.data_dir, dm::Split::Test, std::max(cfg.images, cfg.stat_images));
  auto x0_all = data.images.to(device);                // [N, 1, 28, 28] in [-1, 1]
  auto x0_grid = x0_all.slice(0, 0, cfg.images);       // [images, 1, 28, 28]
  auto x0_stat = x0_all.slice(0, 0, cfg.stat_images);  // [stat_images, 1, 28, 28]
  fmt::print("data: {} Fashion-MNIST test images, pixel mean {:.3f}, variance {:.3f}\n", x0_all.size(0),
             x0_stat.mean().item<double>(), x0_stat.var().item<double>());

  dm::RunDir run_dir(flags.out_root, flags.chapter);
  auto& metrics = run_dir.metrics();
  metrics["T"] = cfg.T;
  metrics["track"] = dm::track();

  dm::Figure fig_ab("alpha_bar_t: how much of x_0 survives", "t", "alpha_bar_t");
  dm::Figure fig_snr("log SNR(t) = log(alpha_bar / (1 - alpha_bar))", "t", "log SNR");
  dm::Figure fig_mean("mean of x_t from x_0 = " + fmt::format("{:g}", cfg.chain_x0), "t", "mean");
  dm::Figure fig_var("variance of x_t: chain (solid) vs closed form (dashed)", "t", "variance");

  // The strip and the video use the same noise for every schedule, so rows differ only by schedule.
  const std::vector<std::int64_t> strip_t = {0, cfg.T / 4, cfg.T / 2, 3 * cfg.T / 4, cfg.T - 1};
  const std::int64_t strip_n = std::min<std::int64_t>(4, cfg.images);
  auto x0_strip = x0_grid.slice(0, 0, strip_n);  // [4, 1, 28, 28]
  auto eps_strip = torch::randn_like(x0_strip);
  std::vector<cv::Mat> strip_rows;

  const std::int64_t beta_tilde_at = std::min(cfg.beta_tilde_at, cfg.T - 1);
  for (const auto& name : names) {
    const Schedule s = to_device(dm::ch02::named_schedule(name, cfg.T), device);
    const auto post = dm::ch02::make_posterior(s);
    const auto snr = dm::ch02::snr(s.alpha_bar);
    const double ab_last = s.alpha_bar[cfg.T - 1].item<double>(), snr_last = snr[cfg.T - 1].item<double>();
    const double bt = post.variance[beta_tilde_at].item<double>();
    fmt::print("{}: beta[0] = {:.3g}, beta[T-1] = {:.3g}, alpha_bar[0] = {:.6f}, alpha_bar[T-1] = {:.3g}\n", name,
               s.beta[0].item<double>(), s.beta[cfg.T - 1].item<double>(), s.alpha_bar[0].item<double>(), ab_last);
    fmt::print("{}: SNR(T-1) = {:.3g} (log SNR {:.2f}), beta_tilde[{}] = {:.7f} (beta[{}] = {:.7f})\n", name, snr_last,
               std::log(snr_last), beta_tilde_at, bt, beta_tilde_at, s.beta[beta_tilde_at].item<double>());
    if (beta_tilde_at > 0 && beta_tilde_at + 1 < cfg.T)  // the neighbours: which index a pinned value pins
      fmt::print("{}: beta_tilde[{}] = {:.7f}, beta_tilde[{}] = {:.7f}\n", name, beta_tilde_at - 1,
                 post.variance[beta_tilde_at - 1].item<double>(), beta_tilde_at + 1,
                 post.variance[beta_tilde_at + 1].item<double>());

    // x_T of real images: close to N(0, I)?
    auto xT = dm::ch02::q_sample(s, x0_stat, torch::full({x0_stat.size(0)}, cfg.T - 1, torch::kLong),
                                 torch::randn_like(x0_stat));
    const double xT_mean = xT.mean().item<double>(), xT_var = xT.var().item<double>();
    fmt::print("{}: x_T of {} images: mean = {:.4f}, variance = {:.4f} (N(0, I): 0 and 1)\n", name, x0_stat.size(0),
               xT_mean, xT_var);

    // The iterated chain against the closed form, at every t.
    const auto st = chain_vs_closed_form(s, cfg.chain_draws, cfg.chain_x0, device);
    fmt::print(
        "{}: chain of {} draws vs closed form over {} steps: max |mean diff| = {:.2f} s.e., "
        "max |variance diff| = {:.2f} s.e.\n",
        name, cfg.chain_draws, cfg.T, st.max_z_mean, st.max_z_var);

    auto& m = metrics["schedules"][name];
    m["alpha_bar_last"] = ab_last;
    m["snr_last"] = snr_last;
    m["beta_tilde"] = {{"t", beta_tilde_at}, {"value", bt}};
    m["xT_mean"] = xT_mean;
    m["xT_var"] = xT_var;
    m["chain_max_z_mean"] = st.max_z_mean;
    m["chain_max_z_var"] = st.max_z_var;

    dm::Style solid;
    solid.color = kColor.at(name);
    auto dashed = dm::Style::dashed();
    dashed.color = kColor.at(name);
    auto thin = dm::Style::thin(0.9);
    thin.color = kColor.at(name);
    const auto t_axis = st.t;
    fig_ab.line(t_axis, to_vector(s.alpha_bar), name, solid);
    fig_snr.line(t_axis, to_vector(snr.log()), name, solid);
    fig_mean.line(t_axis, st.mean_chain, name + " chain", thin).line(t_axis, st.mean_exact, "", dashed);
    fig_var.line(t_axis, st.var_chain, name + " chain", thin).line(t_axis, st.var_exact, "", dashed);

    // One strip row: the same images and noise at the strip's timesteps.
    std::vector<cv::Mat> cells;
    std::vector<std::string> captions;
    for (auto t : strip_t) {
      auto xt = dm::ch02::q_sample(s, x0_strip, torch::full({strip_n}, t, torch::kLong), eps_strip);
      cells.push_back(dm::make_grid(xt, /*nrow=*/2, /*pad=*/2, /*scale=*/3));
      captions.push_back(fmt::format("t = {}", t));
    }
    auto row = dm::labelled_strip(cells, captions);
    cv::hconcat(row_label(row, 110, name), row, row);
    strip_rows.push_back(row);
  }

  fig_ab.save(run_dir.file("schedules.png"));
  fig_snr.save(run_dir.file("snr.png"));
  dm::save_png(run_dir.file("chain_vs_closed_form.png"), dm::hstack({fig_mean.render(), fig_var.render()}));
  cv::Mat strip;
  cv::vconcat(strip_rows, strip);
  dm::save_png(run_dir.file("strip.png"), strip);

  // The video: every schedule's chain, side by side, from the same images and the same noise.
  const int nrow = static_cast<int>(std::ceil(std::sqrt(double(cfg.images))));
  auto grid_of = [&](const torch::Tensor& x) { return dm::make_grid(x, nrow, /*pad=*/2, /*scale=*/2); };
  // One frame: the grids of every schedule (in the order of names), side by side, under a title.
  auto frame_of = [&](const std::vector<cv::Mat>& grids, const std::string& title) {
    std::vector<cv::Mat> panels;
    for (std::size_t i = 0; i < names.size(); ++i) {
      auto g = bgr(grids[i]);
      cv::copyMakeBorder(g, g, 24, 4, 4, 4, cv::BORDER_CONSTANT, cv::Scalar::all(255));
      cv::putText(g, names[i], cv::Point(6, 17), cv::FONT_HERSHEY_SIMPLEX, 0.5, kColor.at(names[i]), 1, cv::LINE_AA);
      panels.push_back(g);
    }
    cv::Mat frame;
    cv::hconcat(panels, frame);
    cv::copyMakeBorder(frame, frame, 26, 0, 0, 0, cv::BORDER_CONSTANT, cv::Scalar::all(255));
    cv::putText(frame, title, cv::Point(6, 19), cv::FONT_HERSHEY_SIMPLEX, 0.55, cv::Scalar::all(0), 1, cv::LINE_AA);
    return frame;
  };
  // ANCHOR: noising_video
  // Frame k shows step round(k (T-1) / (frames-1)).
  std::vector<std::int64_t> frame_t;
  for (std::int64_t k = 0; k < cfg.frames; ++k)
    frame_t.push_back((k * (cfg.T - 1) + (cfg.frames - 1) / 2) / (cfg.frames - 1));
  // Step t's noise comes from a generator seeded from (seed, t), so every schedule's chain gets the same draws.
  auto shared_noise = [&](const torch::Tensor& x, std::int64_t t) {
    return torch::randn(x.sizes(), step_generator(flags.seed, t), x.options().device(torch::kCPU)).to(x.device());
  };
  std::vector<std::vector<cv::Mat>> grids(frame_t.size());  // grids[k][i]: frame k, schedule i
  for (const auto& name : names) {
    const Schedule s = to_device(dm::ch02::named_schedule(name, cfg.T), device);
    std::size_t k = 0;
    auto collect = [&](std::int64_t t, const torch::Tensor& x_t) {  // after every step
      for (; k < frame_t.size() && frame_t[k] == t; ++k) grids[k].push_back(grid_of(x_t));
    };
    dm::ch02::q_chain(step_of(s), x0_grid, cfg.T - 1, shared_noise, collect);  // the whole chain, t = 0..T-1
  }
  auto first = frame_of(std::vector<cv::Mat>(names.size(), grid_of(x0_grid)), "x_0: the data");
  dm::VideoWriter video(run_dir.file("noising.mp4"), cfg.fps, first.size());
  for (int k = 0; k < int(cfg.fps); ++k) video.write(first);  // hold the data for a second
  cv::Mat frame;
  for (std::size_t k = 0; k < frame_t.size(); ++k) {
    frame = frame_of(grids[k], fmt::format("forward chain, t = {} of {}", frame_t[k], cfg.T - 1));
    video.write(frame);
  }
  for (int k = 0; k < int(cfg.fps); ++k) video.write(frame);  // hold the noise for a second
  // ANCHOR_END: noising_video
  const int frames = video.frames();
  video.close();
  fmt::print("noising.mp4: {} frames at {:g} fps ({})\n", frames, cfg.fps, video.codec());

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  metrics["video"] = {{"frames", frames}, {"codec", video.codec()}};
  metrics["seconds"] = seconds;
  run_dir.save_metrics();
  fmt::print(
      "wrote schedules.png, snr.png, chain_vs_closed_form.png, strip.png, noising.mp4, metrics.json to {} "
      "({:.1f} s)\n",
      run_dir.path().string(), seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chapter 02: forward noising - beta schedules, q(x_t | x_0), the posterior, x_T ~ N(0, I)"};
  app.name("02_forward_noising");
  dm::CommonFlags flags{"02_forward_noising"};
  dm::add_common_flags(app, flags);
  Config cfg;
  app.add_option("--schedule", cfg.schedule, "Beta schedule: linear, cosine, sigmoid or all")
      ->check(CLI::IsMember({"linear", "cosine", "sigmoid", "all"}))
      ->capture_default_str();
  app.add_option("-T,--timesteps", cfg.T, "Number of forward steps (>= 2)")->capture_default_str();
  auto* images = app.add_option("--images", cfg.images, "Images in the video grid (1..64)")->capture_default_str();
  auto* stat_images =
      app.add_option("--stat-images", cfg.stat_images, "Images for the x_T ~ N(0, I) check")->capture_default_str();
  auto* draws = app.add_option("--chain-draws", cfg.chain_draws, "Draws of the iterated chain per schedule (>= 100)")
                    ->capture_default_str();
  app.add_option("--chain-x0", cfg.chain_x0, "Starting value of the chain draws")->capture_default_str();
  auto* frames = app.add_option("--frames", cfg.frames, "Video frames from t = 0 to T-1 (>= 2)")->capture_default_str();
  app.add_option("--fps", cfg.fps, "Video frame rate")->capture_default_str();
  app.add_option("--beta-tilde-at", cfg.beta_tilde_at, "Step at which beta_tilde is printed (clipped to T-1)")
      ->capture_default_str();

  return dm::run_main(app, argc, argv, [&] {
    if (flags.quick) {  // small sizes, unless a flag says otherwise
      if (images->count() == 0) cfg.images = 9;
      if (stat_images->count() == 0) cfg.stat_images = 128;
      if (draws->count() == 0) cfg.chain_draws = 4000;
      if (frames->count() == 0) cfg.frames = 50;
    }
    if (cfg.T < 2) throw dm::UsageError(fmt::format("-T must be at least 2, got {}", cfg.T));
    if (cfg.images < 1 || cfg.images > 64)
      throw dm::UsageError(fmt::format("--images must be in 1..64, got {}", cfg.images));
    if (cfg.stat_images < 1 || cfg.stat_images > 10000)
      throw dm::UsageError(fmt::format("--stat-images must be in 1..10000, got {}", cfg.stat_images));
    if (cfg.chain_draws < 100)
      throw dm::UsageError(fmt::format("--chain-draws must be at least 100, got {}", cfg.chain_draws));
    if (cfg.frames < 2) throw dm::UsageError(fmt::format("--frames must be at least 2, got {}", cfg.frames));
    if (!(cfg.fps > 0 && cfg.fps <= 120))
      throw dm::UsageError(fmt::format("--fps must be in (0, 120], got {}", cfg.fps));
    if (cfg.beta_tilde_at < 0)
      throw dm::UsageError(fmt::format("--beta-tilde-at must be >= 0, got {}", cfg.beta_tilde_at));
    return run(flags, cfg);
  });
}
