// The loop around a chapter's own training step: what every training chapter (03, 06, 07, 08, 09)
// shares, written once. The chapter passes its step, its checkpoint writer and its preview; the loop
// owns the rest:
//   - the checkpoint cadence, and a last checkpoint at the end;
//   - Ctrl-C: the step in flight finishes, a checkpoint is written, and the run ends as interrupted
//     (the program exits 130; --resume continues it);
//   - the NaN guard: a step whose loss is not finite stops the run with a dm::UserError that names the
//     step and the last good checkpoint (untouched) and says what to change;
//   - the progress bar, with the loss smoothed over the last steps;
//   - the loss history (one value per step, kept across --resume by the caller's checkpoint).
//
//   dm::train::LoopHooks hooks;
//   hooks.step = [&](std::int64_t step) { return my_step(step); };   // {loss, finite}
//   hooks.save = [&](std::int64_t done) { write_checkpoint(done); };
//   auto r = dm::train::run_training(opts, hooks, start_step, losses);
//   if (r.interrupted) return 130;
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace dm::train {

struct LoopOptions {
  std::int64_t steps = 0;          // the total number of steps (also when resuming)
  std::int64_t ckpt_every = 1000;  // steps between checkpoints (>= 1)
  std::int64_t preview_every = 0;  // steps between previews; 0: none (a preview also follows step 1)
  std::int64_t stop_after = 0;     // > 0: act as if Ctrl-C came when this many steps are done (tests)
  std::string label = "train";     // the progress bar's label
  // What the NaN message advises, e.g. "lower --lr (now 0.003) or raise --warmup".
  std::string nan_advice = "lower the learning rate";
};

struct StepOutcome {
  double loss = 0;     // the step's loss
  bool finite = true;  // false: the loss was NaN or infinite and nothing was updated
};

struct LoopHooks {
  std::function<StepOutcome(std::int64_t step)> step;  // one step; `step` counts the steps done before it
  std::function<void(std::int64_t done)> save;         // write a checkpoint after `done` steps
  std::function<void(std::int64_t done)> preview;      // optional: a video frame, a sample grid
};

struct LoopResult {
  std::int64_t done = 0;     // steps done when the loop returned
  bool interrupted = false;  // Ctrl-C (or stop_after): a checkpoint was written at `done`
  double seconds = 0;        // wall time of the steps run now
};

// Runs the steps start .. opts.steps - 1, appending each loss to `losses`. Throws dm::UserError on a
// non-finite loss (after which no checkpoint is written: the last good one stays as it was).
LoopResult run_training(const LoopOptions& opts, const LoopHooks& hooks, std::int64_t start,
                        std::vector<double>& losses);

// The loss smoothed without lag or bias: the mean over a centred window of `half_width` steps on each
// side (narrower at the two ends), so a curve that falls at step k is drawn falling at step k.
// half_width 0 picks about 1% of the run, at least 1.
std::vector<double> smooth_centred(const std::vector<double>& values, std::int64_t half_width = 0);

// The loss figure: every step (thin) and the centred smoothing, on a log axis; title and y label given.
// losses[i] is the loss of step first_step + i + 1 (first_step > 0: a run that started from another's
// weights, which recorded no losses before it).
void plot_losses(const std::vector<double>& losses, const std::filesystem::path& png, const std::string& title,
                 const std::string& ylabel, std::int64_t first_step = 0);

}  // namespace dm::train
