// Chapter 06, part 3: inpainting with chapter 03's unconditional model — conditioning by replacement (your
// 06.8 inside your 03.3's step) and RePaint's resampling (your 06.9's jumps along your 06.10's order, walked
// by your 06.11).
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

// ANCHOR: inpaint_hyperparameters
// ---- inpainting (full recipe; --quick values in brackets; each overridable by its flag) --------------
struct InpaintConfig {
  std::string unconditional;  // the model (--unconditional, shared with classifier guidance) [chapter 03's reference]
  std::string unconditional_sha256;
  std::vector<std::string> masks = {"center", "bottom"};  // --inpaint-masks: the hidden region [bottom]
  std::int64_t images = 200;                              // --inpaint-images: test images per mask [40]
  std::int64_t batch = 100;                               // --inpaint-batch: images per sampler call [40]
  std::int64_t steps = 100;  // --inpaint-steps: reverse steps on 03's respaced schedule [50]
  std::int64_t jump = 10;    // --jump: levels per jump back (RePaint's j) [5]
  std::vector<std::int64_t> resamplings = {1, 2, 5, 10};  // --resamplings: RePaint's r; 1 = replacement [1,4]
};
// ANCHOR_END: inpaint_hyperparameters

// The masks the program knows, 1 where a pixel is known: [1, 1, 28, 28] float. "center": the central 14 x 14
// square hidden; "bottom", "top", "left", "right": that half hidden. Another name: dm::UsageError listing them.
torch::Tensor inpaint_mask(const std::string& name);
const std::vector<std::string>& inpaint_mask_names();

// Inpaints the first cfg.images test images under each mask with every r of cfg.resamplings (the same starting
// noise for every r), judges them with the evaluation classifier (does it still see the original's class?), the
// hidden region's error against the original and the seam at the mask's edge; writes the table, the strips and
// the agreement figure; returns the part's metrics.
nlohmann::json run_inpainting(const InpaintConfig& cfg, const dm::CommonFlags& flags, const torch::Device& device,
                              const dm::eval::Evaluator& ev, dm::RunDir& run);

}  // namespace ch06
