// Chapter 06, part 2: classifier guidance (Dhariwal & Nichol 2021) of chapter 03's unconditional model on
// Fashion-MNIST, with a noise-aware classifier trained here (your 06.6) and its gradient (your 06.7) turned
// into eps units (your 06.5) inside your DDIM (05.3) and DDPM (03.7) samplers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>
#include <nlohmann/json.hpp>

#include "dm/cli.hpp"
#include "dm/eval/evaluator.hpp"
#include "dm/run_dir.hpp"

namespace ch06 {

// ANCHOR: cg_hyperparameters
// ---- classifier guidance (full recipe; --quick values in brackets; each overridable by its flag) ------
struct CgConfig {
  std::string unconditional;             // --unconditional: the model guided [reference/03_ddpm/model.dmt]
  std::string classifier;                // --classifier: a noise-aware classifier to start from
                                         //   [quick: reference/06_guidance/classifier.dmt; full: a fresh one]
  std::int64_t classifier_steps = 8000;  // --classifier-steps: its training steps in this run [100]; 0: as it is
  std::int64_t classifier_batch = 128;   // --classifier-batch: images per step [64]
  double classifier_lr = 1e-3;           // --classifier-lr: peak AdamW learning rate [1e-4]
  std::int64_t classifier_warmup = 100;  // --classifier-warmup: linear warmup steps [10]
  std::vector<double> scales = {0, 1, 2, 4, 8, 16};      // --cg-scales: guidance scales s of the sweep [0,4]
  std::vector<std::string> samplers = {"ddim", "ddpm"};  // --cg-samplers: ddim (eta 0) and/or ddpm (ancestral)
  std::int64_t ddpm_steps = 100;                         // --cg-ddpm-steps: DDPM's respaced steps (03's respacing) [50]
  std::int64_t accuracy_images = 2000;  // --cg-accuracy-images: test images behind accuracy against t [500]
  std::string unconditional_sha256, classifier_sha256;  // checked when the files are the course's references
};
// ANCHOR_END: cg_hyperparameters

// What the classifier-guidance sweep shares with classifier-free guidance's (main.cpp's flags).
struct SweepSettings {
  std::int64_t samples = 500, sample_batch = 250, sample_steps = 50;
  bool clip_x0 = true;
  std::vector<std::int64_t> grid_classes;
};

// One row of a sweep, as the side-by-side trade-off figure draws it.
struct TradeoffPoint {
  std::string label;
  double accuracy = 0, fid = 0, fid_lo = 0, fid_hi = 0, recall = 0, recall_lo = 0, recall_hi = 0;
};
std::vector<TradeoffPoint> tradeoff_points(const nlohmann::json& rows, const std::string& name);

// Trains (or loads) the noise-aware classifier, plots its accuracy against t, sweeps the guidance scale with
// each sampler, writes the tables, grids and the trade-off figure beside `cfg_points` (classifier-free
// guidance's rows, from this run or the reference's), and returns the part's metrics. interrupted: Ctrl-C
// during the classifier's training (its weights so far are written; the program exits 130).
nlohmann::json run_classifier_guidance(const CgConfig& cfg, const SweepSettings& sw, const dm::CommonFlags& flags,
                                       const torch::Device& device, const dm::eval::Evaluator& ev, dm::RunDir& run,
                                       std::int64_t stop_after, const std::vector<TradeoffPoint>& cfg_points,
                                       const std::string& cfg_source, bool& interrupted);

}  // namespace ch06
