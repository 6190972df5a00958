// Chapter 06, part 4: text prompts through cross-attention (Rombach et al. 2022, section 3.3). A U-Net with a
// small text encoder, trained jointly from chapter 03's unconditional model on captions measured from the
// images (your 06.13 splits their words), reading the prompt by cross-attention (your 06.12), trained with
// your Algorithm 1 (06.4, 06.1) and guided towards a prompt by your 06.3 against the empty prompt.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/types.h>
#include <nlohmann/json.hpp>

#include "dm/cli.hpp"
#include "dm/eval/evaluator.hpp"
#include "dm/run_dir.hpp"

namespace ch06 {

// ANCHOR: text_hyperparameters
// ---- text prompts (full recipe; --quick values in brackets; each overridable by its flag) -------------
struct TextConfig {
  std::string init;               // --text-init: the model training starts from [the course's text reference model];
  std::string init_sha256;        //   by default chapter 03's unconditional reference model in the full recipe
  std::int64_t steps = 3000;      // --text-steps: optimizer steps [20]
  std::int64_t batch = 64;        // --text-batch: images per step [16]
  double lr = 5e-4;               // --text-lr: peak AdamW learning rate [1e-4]
  std::int64_t warmup = 100;      // --warmup (shared with the cfg part) [10]
  double grad_clip = 1.0;         // --grad-clip (shared)
  double ema = 0.999;             // --ema (shared) [0.99]
  std::int64_t ckpt_every = 250;  // --ckpt-every (shared) [100]
  double p_uncond = 0.1;          // --p-uncond (shared): probability that a caption is replaced by the empty prompt
  double p_word = 0.5;            // --p-word: probability that a caption names each attribute of its image
  // --held-out: (attribute, class) pairs no caption ever names together, chosen before training; the images
  // are still seen, with that attribute's word left out of their captions
  std::vector<std::string> held_out = {"light sandal", "dark dress", "small coat", "large sneaker"};
  std::vector<double> w = {0, 1, 3};  // --text-w: guidance strengths of the evaluation (Ho & Salimans' w) [0,3]
  std::int64_t per_prompt = 10;       // --text-samples: images per prompt, 40 prompts [1]
  std::int64_t sample_batch = 200;    // --sample-batch (shared) [100]
  std::int64_t sample_steps = 50;     // --sample-steps (shared): DDIM steps (eta = 0) [20]
  std::vector<std::string> prompts;   // --prompt: prompts of text_prompts.png and the video
  double prompt_w = 3;                // --prompt-w: their guidance strength
  std::int64_t prompt_samples = 8;    // --prompt-samples: images per prompt
  std::string attention_prompt = "a small dark ankle boot";  // --attention-prompt: whose maps text_attention.png shows
};
// ANCHOR_END: text_hyperparameters

struct TextRun {
  bool sample_only = false, train_only = false, resume = false;
  std::int64_t stop_after = 0;
};

// Checks the prompts and the held-out pairs against the vocabulary (dm::UsageError, before anything runs).
void check_text_config(const TextConfig& cfg);

// Trains (unless run.sample_only), evaluates and draws part 4; returns its metrics; sets interrupted after Ctrl-C.
nlohmann::json run_text_prompts(const TextConfig& cfg, const TextRun& run_opt, const dm::CommonFlags& flags,
                                const torch::Device& device, const std::function<const dm::eval::Evaluator&()>& judge,
                                dm::RunDir& run, bool& interrupted);

}  // namespace ch06
