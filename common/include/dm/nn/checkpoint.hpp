// Checkpoints of a diffusion training run: one file holding everything a resumed run needs to end
// bit-identical to an uninterrupted one (on the CPU with --deterministic).
//
//   file format: a torch::serialize archive (a zip, torch::save's format) with
//     "format"     string IValue "dm-ddpm-checkpoint/1"
//     "config"     string IValue, UNetConfig::to_json() dumped
//     "meta"       string IValue, JSON: {"step", "schedule", "T", ...} (whatever the writer adds)
//     "model/..."  the raw (trained) weights        "ema/..."  the EMA weights
//     "optimizer"  the optimizer's state (AdamW moments and step counts)
//     "rng"        the CPU generator's state (uint8 tensor)
//   written to <path>.tmp-<pid> and renamed over <path>: a crash mid-write never leaves half a file.
//
// Reading checks, in this order, and throws dm::UserError with what to do:
//   the file exists; it is a readable archive (else: "truncated or not a checkpoint: delete it");
//   "format" is ours; the stored config equals the run's (else: every difference with its flag,
//   "checkpoint X was written for a U-Net with base_width 64, this run builds base_width 32 —
//   pass --width 64 or delete it"); every tensor is present with the expected shape.
//
// Chapter 05 (and anyone who only samples) uses load_model():
//   auto m = dm::nn::load_model("runs/03_ddpm/ckpt.pt", device);
//   m.model->forward(x_t, t);  m.meta["schedule"], m.meta["T"]
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include <torch/nn.h>
#include <torch/optim/optimizer.h>
#include <nlohmann/json.hpp>

#include "dm/io/tensor_file.hpp"
#include "dm/nn/unet.hpp"

namespace dm::nn {

inline const char* kCheckpointFormat = "dm-ddpm-checkpoint/1";

// The chapter 03 program's checkpoint, inside its run folder: runs/03_ddpm/ckpt.pt.
inline const char* kDefaultCheckpointName = "ckpt.pt";

// What save_checkpoint writes and load_checkpoint restores into objects the caller built.
struct TrainingState {
  UNet model{nullptr};                             // trained weights (the optimizer's parameters)
  UNet ema{nullptr};                               // EMA copy, same config
  torch::optim::Optimizer* optimizer = nullptr;    // may be null: not saved / not restored
  std::int64_t step = 0;                           // optimizer steps done
  nlohmann::json meta = nlohmann::json::object();  // "schedule", "T", loss history, ...; "step" is set from step
};

// Writes the checkpoint atomically, including the CPU generator's state. Throws dm::UserError when the
// folder is not writable.
void save_checkpoint(const std::filesystem::path& path, const TrainingState& state);

// Reads path into `state` (model, ema and optimizer must already be built with the run's config; the
// optimizer over state.model's parameters). Restores step, meta and the CPU generator's state when
// restore_rng. Throws dm::UserError as described at the top; never leaves a half-loaded model behind
// a successful return.
void load_checkpoint(const std::filesystem::path& path, TrainingState& state, bool restore_rng = true);

// Only the stored config and meta (cheap; same errors for a missing or truncated file).
struct CheckpointInfo {
  UNetConfig config;
  nlohmann::json meta;
};
CheckpointInfo read_checkpoint_info(const std::filesystem::path& path);

// A model to sample from: the EMA weights (or the raw ones with use_ema = false) in eval mode on
// `device`, built from the stored config.
struct LoadedModel {
  UNetConfig config;
  UNet model{nullptr};
  // at least "step", "schedule" (a chapter 02 name), "T"; chapter 03's program also writes "beta" (the
  // [T] betas it trained with: its linear schedule is rescaled by 1000 / T when T != 1000, so rebuild
  // the schedule from "beta" when present) and "losses".
  nlohmann::json meta;
};
// A missing file is a dm::UserError that says how to make one (run chapter 03). `embed` is the
// timestep embedding the model was trained with (chapter 03's exercise 03.1).
LoadedModel load_model(const std::filesystem::path& path, const torch::Device& device, TimestepEmbedding embed,
                       bool use_ema = true);

// ---- model files: one model's weights for sampling, in the course's own tensor format ----------------
//
// A checkpoint is torch::save's archive, for resuming on the same machine. What later chapters load is a
// model file: a course tensor file (dm/io/tensor_file.hpp) that LibTorch 1.13 and 2.x read alike, so a
// model trained on a GPU box samples on a Debian laptop. Its meta holds {"kind": "dm-unet", "config":
// UNetConfig::to_json(), "step", "schedule", "T", "beta", ...} (what the writer adds); reference/ commits
// such files with their sha256.
inline const char* kModelFileName = "model.dmt";

// Writes `model`'s parameters and buffers (the EMA weights, in chapter 03) with `config` and `meta`,
// atomically. kFloat16 halves the file (sampling is unaffected at the course's tolerances).
void save_model_file(const std::filesystem::path& path, const UNet& model, const UNetConfig& config,
                     nlohmann::json meta, dm::io::FloatStorage floats = dm::io::FloatStorage::kAsIs);

// Builds the U-Net its meta describes and loads it (float32, eval mode, on `device`). A missing file,
// another kind of file, an invalid config, missing or extra tensors, other shapes, or a sha256 other than
// expect_sha256 (when given) are dm::UserErrors that name the file.
LoadedModel load_model_file(const std::filesystem::path& path, const torch::Device& device, TimestepEmbedding embed,
                            const std::string& expect_sha256 = "");

}  // namespace dm::nn
