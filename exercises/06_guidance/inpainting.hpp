// Inpainting with an unconditional model: the known pixels of an image condition the reverse process
// (lesson 06, "11. Inpainting: conditioning by replacement" and "12. RePaint: jumping back").
//
//   06.8  inpaint_step       one reverse step that keeps the known pixels: the network's step where the
//                            pixels are to be made, the known image noised to the same level where they are known
//   06.9  q_jump             the forward process run on from a noised sample: a draw of x_{t'} given x_t (a derivation)
//   06.10 repaint_schedule   RePaint's order of noise levels: down, and back up by `jump` levels, `resamplings` times
//   06.11 repaint            the whole sampler: 06.10's order walked with 06.8's steps and 06.9's jumps
//
// Indices as in chapters 02 and 03: timesteps t = 0..T-1, alpha_bar[t] the fraction of the data's variance
// left at level t, and "level -1" the clean image. A reverse step at timestep t takes a sample from level t
// to level t - 1 (the step at t = 0 gives the image). Images are [B, C, H, W] in [-1, 1]; a mask is 1 where
// a pixel is known and 0 where it is to be generated, of a shape that broadcasts against the images
// ([B, 1, H, W] or [1, 1, H, W]).
// 06.8 and 06.11 take the functions they are made of as arguments: the chapter program passes yours (03.3's
// p_sample, 02.3's q_sample, 06.8, 06.9, 06.10), the tests pass small recording fakes.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <torch/types.h>

#include "02_forward_noising/schedule.hpp"
#include "03_ddpm/algorithms.hpp"

namespace dm::ch06 {

using dm::ch02::Schedule;

// ---- 06.8 conditioning by replacement: one reverse step ---------------------------------------------------
//
// The reverse process knows nothing of the known pixels; the replacement method (Song et al. 2021, appendix
// I, "imputation"; Lugmayr et al. 2022, "conditioning on the known region") tells it at every step by
// overwriting them with the known image, noised to the level the rest of the sample has just reached, so
// that the network sees a sample of one noise level throughout.

// The parts inpaint_step is made of: 03.3's p_sample (its schedule and variance fixed by the program) and
// 02.3's q_sample.
struct InpaintStepParts {
  dm::ch03::ReverseStepFn reverse;  // reverse(x_t, t, eps, z) -> {x_{t-1}, x0_hat}
  std::function<torch::Tensor(const Schedule& s, const torch::Tensor& x0, const torch::Tensor& t,
                              const torch::Tensor& eps)>
      q_sample;  // x0 noised to level t[b] by eps, for each b
};

//   parts      as above
//   s          the schedule behind parts.reverse
//   x_t        [B, C, H, W] the sample at level t
//   t          the timestep of this step, 0..T-1 (else std::invalid_argument)
//   eps        [B, C, H, W] the network's noise prediction at (x_t, t)
//   z          [B, C, H, W] the reverse step's N(0, I) noise (the step at t = 0 ignores it)
//   known      [B, C, H, W] the clean image whose known pixels are kept
//   mask       1 where known, 0 where generated, broadcasting against x_t
//   eps_known  [B, C, H, W] N(0, I) noise for the known pixels, drawn apart from z
//   returns    [B, C, H, W] the sample at level t - 1: the known image at that level where mask = 1 (at t = 0,
//              the known pixels themselves, exactly), the reverse step's x_{t-1} where mask = 0
torch::Tensor inpaint_step(const InpaintStepParts& parts, const Schedule& s, const torch::Tensor& x_t, std::int64_t t,
                           const torch::Tensor& eps, const torch::Tensor& z, const torch::Tensor& known,
                           const torch::Tensor& mask, const torch::Tensor& eps_known);

// ---- 06.9 jumping back: q(x_{t'} | x_t) (a derivation) ------------------------------------------------------
//
// RePaint re-noises a sample it has just denoised and denoises it again. The forward process from level t to
// level t' > t is the chain of t' - t single steps q(x_k | x_{k-1}) of chapter 02; the lesson ("12. RePaint")
// asks you to compose them into one Gaussian. The tests check your draw against the chain itself.
//   s       the schedule
//   x_t     [B, ...] a sample at level t
//   t, t_to the levels, 0 <= t <= t_to <= T-1 (else std::invalid_argument)
//   z       [B, ...] N(0, I) noise, x_t's shape
//   returns [B, ...] a draw of x at level t_to given x_t (x_t itself when t_to = t), x_t's dtype
torch::Tensor q_jump(const Schedule& s, const torch::Tensor& x_t, std::int64_t t, std::int64_t t_to,
                     const torch::Tensor& z);

// ---- 06.10 RePaint's order of noise levels (Lugmayr et al. 2022, "resampling") -----------------------------
//
// Replacement makes the generated pixels agree with the known ones only through the noise they share; RePaint
// gives the two regions more steps to agree by going back up `jump` levels at regular points and coming down
// again. The order starts at the top level T - 1 and goes down one level at a time. The jump points are the
// levels 0, jump, 2 jump, ... whose jump target l + jump is at most T - 1. When the walk first reaches a jump
// point l, it goes back up to l + jump and comes down to l again, and repeats that until the stretch from
// l + jump down to l has been walked `resamplings` times in all (the first walk counted); then it carries on
// down from l. It ends with the last
// reverse step, from level 0 to -1 (the image).
//   T            the number of levels, >= 1
//   jump         levels per jump, >= 1
//   resamplings  walks of each stretch, >= 1 (1: no jump at all, the plain replacement order)
//   (other values: std::invalid_argument)
//   returns      the levels in the order visited: T - 1 first, -1 last; consecutive levels differ by -1 (a
//                reverse step) or by +jump (a jump)
std::vector<std::int64_t> repaint_schedule(std::int64_t T, std::int64_t jump, std::int64_t resamplings);

// ---- 06.11 the RePaint sampler (Lugmayr et al. 2022, Algorithm 1 with jumps) --------------------------------

// The parts repaint is made of. The program passes the U-Net, your 06.8 with its two noises drawn, your 06.9
// with its noise drawn; a test passes recording fakes.
struct RepaintParts {
  dm::ch03::EpsModel eps_theta;  // eps_theta(x_t, t) with t a [B] int64 tensor on x_t's device
  std::function<torch::Tensor(const torch::Tensor& x_t, std::int64_t t, const torch::Tensor& eps,
                              const torch::Tensor& known, const torch::Tensor& mask)>
      step;  // 06.8: level t -> t - 1
  std::function<torch::Tensor(const torch::Tensor& x, std::int64_t t, std::int64_t t_to)> jump;  // 06.9
};

// Called after each move with the level reached and the sample there (for the program's strips).
using RepaintCallback = std::function<void(std::int64_t level, const torch::Tensor& x)>;

// Inpainting with RePaint: walks `levels` (06.10's order) from x_T, a reverse step for each move down, a jump
// for each move up. With resamplings = 1 it is the replacement sampler. Runs without autograd.
//   parts     as above
//   levels    the order: levels.front() the level of x_T (T - 1), levels.back() = -1, each move one level down
//             or some levels up, never above the first (fewer than two levels, another last level, a move of 0,
//             of more than one level down or above the first level: std::invalid_argument, before any network
//             call)
//   x_T       [B, C, H, W] the starting noise
//   known     [B, C, H, W] the clean images;  mask as in inpaint_step
//   on_move   optional, called after every move
//   returns   [B, C, H, W] the inpainted images (level -1)
torch::Tensor repaint(const RepaintParts& parts, const std::vector<std::int64_t>& levels, const torch::Tensor& x_T,
                      const torch::Tensor& known, const torch::Tensor& mask, const RepaintCallback& on_move = nullptr);

}  // namespace dm::ch06
