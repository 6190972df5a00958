// The training loop's plumbing: checkpoints, Ctrl-C, the NaN guard, progress, the loss history.
#include "dm/train/loop.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>

#include "dm/errors.hpp"
#include "dm/plot.hpp"
#include "dm/progress.hpp"

namespace dm::train {
namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted = true; }

// Installs the Ctrl-C handler for the loop's lifetime and restores the default after.
struct SigintScope {
  SigintScope() {
    g_interrupted = false;
    std::signal(SIGINT, on_sigint);
  }
  ~SigintScope() { std::signal(SIGINT, SIG_DFL); }
};

}  // namespace

LoopResult run_training(const LoopOptions& opts, const LoopHooks& hooks, std::int64_t start,
                        std::vector<double>& losses) {
  if (!hooks.step || !hooks.save) throw std::logic_error("run_training: the step and save hooks are required");
  if (opts.ckpt_every < 1) throw std::logic_error("run_training: ckpt_every must be >= 1");
  LoopResult r{start, false, 0};
  if (start >= opts.steps) return r;
  const auto t0 = std::chrono::steady_clock::now();
  SigintScope sigint;
  Progress bar(opts.label, opts.steps, start);
  std::int64_t last_good = start;
  for (std::int64_t step = start; step < opts.steps; ++step) {
    if (g_interrupted || (opts.stop_after > 0 && step == opts.stop_after)) {
      hooks.save(step);
      bar.finish();
      fmt::print("interrupted at step {}: checkpoint saved; continue with --resume\n", step);
      r.done = step;
      r.interrupted = true;
      break;
    }
    const auto out = hooks.step(step);
    if (!out.finite || !std::isfinite(out.loss)) {
      bar.finish();
      const auto kept = last_good > 0
                            ? fmt::format("The last good checkpoint (step {}) is untouched; {}, then --resume.",
                                          last_good, opts.nan_advice)
                            : fmt::format("No checkpoint was written yet; {} and start again.", opts.nan_advice);
      throw UserError(fmt::format("the loss is {} at step {}: training stopped. {}", out.loss, step, kept));
    }
    losses.push_back(out.loss);
    // the bar shows the mean of the last (up to) 50 losses: no lag beyond that window, no start-up bias
    const auto n = std::min<std::size_t>(50, losses.size());
    double recent = 0;
    for (std::size_t i = losses.size() - n; i < losses.size(); ++i) recent += losses[i] / double(n);
    bar.update(step + 1, recent);
    if (hooks.preview && opts.preview_every > 0 && ((step + 1) % opts.preview_every == 0 || step == 0))
      hooks.preview(step + 1);
    if ((step + 1) % opts.ckpt_every == 0 || step + 1 == opts.steps) {
      hooks.save(step + 1);
      last_good = step + 1;
    }
    r.done = step + 1;
  }
  bar.finish();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

std::vector<double> smooth_centred(const std::vector<double>& values, std::int64_t half_width) {
  const auto n = static_cast<std::int64_t>(values.size());
  if (half_width <= 0) half_width = std::max<std::int64_t>(1, n / 100);
  std::vector<double> prefix(values.size() + 1, 0.0);
  for (std::size_t i = 0; i < values.size(); ++i) prefix[i + 1] = prefix[i] + values[i];
  std::vector<double> out(values.size());
  for (std::int64_t i = 0; i < n; ++i) {
    // symmetric around i: the window shrinks at the ends rather than leaning to one side
    const auto w = std::min({half_width, i, n - 1 - i});
    const auto lo = static_cast<std::size_t>(i - w), hi = static_cast<std::size_t>(i + w + 1);
    out[static_cast<std::size_t>(i)] = (prefix[hi] - prefix[lo]) / double(hi - lo);
  }
  return out;
}

void plot_losses(const std::vector<double>& losses, const std::filesystem::path& png, const std::string& title,
                 const std::string& ylabel, std::int64_t first_step) {
  if (losses.empty()) return;
  std::vector<double> x(losses.size());
  for (std::size_t i = 0; i < losses.size(); ++i) x[i] = double(first_step) + double(i + 1);
  const auto half = std::max<std::int64_t>(1, static_cast<std::int64_t>(losses.size()) / 100);
  Figure fig{title, "step", ylabel};
  fig.line(x, losses, "per step", Style::thin(0.35))
      .line(x, smooth_centred(losses, half), fmt::format("centred mean of {} steps", 2 * half + 1))
      .logy();
  fig.save(png);
}

}  // namespace dm::train
