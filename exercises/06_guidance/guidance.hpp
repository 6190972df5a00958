// Guidance: steering a diffusion model towards a label y (lesson 06).
//
//   06.1 null_label / drop_labels   the "no label" id, and label dropout for joint training
//   06.2 cfg_combine                classifier-free guidance's mix of two predictions, in both conventions
//   06.3 guided_eps                 the guided prediction of a conditional network: both passes in one batch
//   06.4 cfg_loss                   Ho & Salimans' Algorithm 1: L_simple with the label dropped at random
//   06.5 classifier_guided_eps /    Bayes' rule in eps units: the shift a classifier's gradient makes, and
//        implicit_classifier_grad   the classifier gradient that a conditional/unconditional pair implies
//   06.6 classifier_loss            the noise-aware classifier's objective: its cross-entropy on noised images
//   06.7 classifier_log_prob_grad   grad_x log p_phi(y | x_t, t) of a classifier network, by autograd
//
// Indices as in chapters 02 and 03: t = 0..T-1, alpha_bar[t] the fraction of the data's variance left in
// x_t. A network predicts eps (the noise in x_t), as in chapter 03. Labels are int64 ids: 0..K-1 for the K
// classes (Fashion-MNIST: K = 10), and one more id that means "no label".
// 06.3 and 06.4 take the functions they are made of as arguments (GuidanceParts, CfgLossParts): the
// chapter program passes yours, the tests pass small recording fakes, so a slip in 06.1 or 06.2 costs
// those exercises' points only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <torch/types.h>

#include "02_forward_noising/schedule.hpp"
#include "03_ddpm/algorithms.hpp"

namespace dm::ch06 {

using dm::ch02::Schedule;

// A class-conditional network: eps_theta(x_t, t, y) for x_t [B, ...] float, t [B] int64, y [B] int64.
using CondEpsModel =
    std::function<torch::Tensor(const torch::Tensor& x_t, const torch::Tensor& t, const torch::Tensor& y)>;

// ---- 06.1 the "no label" id and label dropout -----------------------------------------------------
//
// One network learns both p(x | y) and p(x): during training each label is replaced, with probability
// p_uncond, by an id that means "no label" (lesson 06, "3. One network, two models: label dropout").
// The id must be one the classes do not use, and it is derived from their number, never written in.

// The id of "no label" for labels 0..num_classes-1.
//   num_classes   K >= 1 (else std::invalid_argument)
//   returns       an id the K classes do not use, the one the U-Net's extra embedding row is for: the
//                 course's U-Net with num_classes = K has rows 0..K (dm/nn/unet.hpp)
std::int64_t null_label(std::int64_t num_classes);

// Label dropout: each label replaced by null_label(num_classes) where its uniform draw says so.
//   y            [B] int64 labels in 0..num_classes-1 (not modified)
//   u            [B] float, one U[0, 1) draw per label
//   p_uncond     in [0, 1]: the probability that a label is dropped (Ho & Salimans use 0.1 and 0.2);
//                0 keeps every label, 1 drops them all
//   returns      [B] int64 on y's device: label b dropped exactly when u[b] < p_uncond
torch::Tensor drop_labels(const torch::Tensor& y, const torch::Tensor& u, double p_uncond, std::int64_t num_classes);

// ---- 06.2 classifier-free guidance: the mix ----------------------------------------------------------
//
// From the conditional prediction eps_c = eps(x_t, t, y) and the unconditional eps_u = eps(x_t, t, no
// label), guidance extrapolates past eps_c, away from eps_u (lesson 06, "4. Classifier-free guidance").
// People meet the strength in two conventions, and mixing them up is a common bug:
//   HoSalimansW    Ho & Salimans' w (2022, eq. 6): w = 0 is the conditional model alone
//   GuidanceScale  diffusers' and Stable Diffusion's guidance_scale s (Imagen's w): s = 1 is the
//                  conditional model alone, and s = w + 1 gives the same prediction as w
// In both, the strength that removes guidance returns eps_c (to rounding), and larger strengths push further.
enum class Convention { HoSalimansW, GuidanceScale };
Convention parse_convention(const std::string& name);  // "w" | "scale", else std::invalid_argument
const char* convention_name(Convention c);             // "w" | "scale"

//   eps_cond, eps_uncond   [B, ...] same shape and dtype
//   strength               w (>= 0) or s (>= 1), in the given convention (other values extrapolate the
//                          same line; they are not refused)
//   returns                [B, ...] the guided prediction, the same dtype
torch::Tensor cfg_combine(const torch::Tensor& eps_cond, const torch::Tensor& eps_uncond, double strength,
                          Convention convention);

// ---- 06.3 the guided prediction of a network ------------------------------------------------------------

// The parts guided_eps is made of (06.1's null_label, 06.2's cfg_combine in the program).
struct GuidanceParts {
  std::function<std::int64_t(std::int64_t num_classes)> null_label;
  std::function<torch::Tensor(const torch::Tensor& eps_cond, const torch::Tensor& eps_uncond, double strength,
                              Convention convention)>
      combine;
};
GuidanceParts exercise_parts();  // the chapter's own: null_label and cfg_combine above (yours, on the exercises track)

// Classifier-free guidance at one sampling step (Ho & Salimans 2022, Algorithm 2, one step): the
// conditional and the unconditional predictions for the same x_t, from ONE call of eps_theta on a batch
// of 2B (a U-Net pass costs about the same for 2B images as two passes of B, without the second call's
// overhead; on a GPU it is nearly free), then mixed by parts.combine (lesson 06, "5. Both passes in one
// batch").
//   eps_theta    the conditional network, called exactly once
//   x_t          [B, ...] the current samples;  t [B] int64;  y [B] int64 labels in 0..num_classes-1
//   strength, convention   as in cfg_combine
//   num_classes  K: "no label" is parts.null_label(K)
//   returns      [B, ...] the guided eps for each x_t[b] and its label y[b]; every tensor you build (the
//                "no label" ids) on the inputs' device, so that the program runs on a GPU too
torch::Tensor guided_eps(const GuidanceParts& parts, const CondEpsModel& eps_theta, const torch::Tensor& x_t,
                         const torch::Tensor& t, const torch::Tensor& y, double strength, Convention convention,
                         std::int64_t num_classes);

// ---- 06.4 joint training: Ho & Salimans' Algorithm 1 ---------------------------------------------------

// The parts cfg_loss is made of. The program passes the U-Net, torch's uniform draws, your 06.1 and your
// chapter-03 L_simple (03.2); a test passes recording fakes.
struct CfgLossParts {
  CondEpsModel eps_theta;                                     // the conditional network
  std::function<torch::Tensor(std::int64_t batch)> uniforms;  // [batch] float U[0, 1) draws
  std::function<torch::Tensor(const torch::Tensor& y, const torch::Tensor& u, double p_uncond,
                              std::int64_t num_classes)>
      drop_labels;        // 06.1's drop_labels
  dm::ch03::LossFn loss;  // 03.2's l_simple
};

// The loss of one minibatch of joint training (lesson 06, "3. One network, two models: label dropout"):
// chapter 03's L_simple on (x0, t, eps) with the network conditioned on the batch's labels, each of them
// dropped to "no label" with probability p_uncond, independently, by one uniform draw per image. The
// caller (chapter 03's train_step, 03.6) draws t and eps and does the rest of the step.
//   parts        as above; parts.uniforms is called once, for the batch
//   s            the schedule;  x0 [B, ...] the images;  y [B] int64 their labels in 0..num_classes-1
//   t            [B] int64 timesteps;  eps [B, ...] the noise, x0's shape
//   p_uncond     in [0, 1];  num_classes K
//   returns      a scalar tensor, the loss (with its autograd graph)
torch::Tensor cfg_loss(const CfgLossParts& parts, const Schedule& s, const torch::Tensor& x0, const torch::Tensor& y,
                       const torch::Tensor& t, const torch::Tensor& eps, double p_uncond, std::int64_t num_classes);

// ---- 06.5 classifier guidance: Bayes' rule in eps units (a derivation) ---------------------------------
//
// A network that predicts eps at noise level alpha_bar_t is a score model, grad log p(x_t), in other
// units (lesson 04, "2. The score of the noised marginal"). Bayes' rule, log p(x_t | y) = log p(x_t) + log p(y | x_t)
// - log p(y), turns a classifier's gradient into a change of the prediction; the lesson ("2. Classifier
// guidance: Bayes' rule in eps units") asks you to derive both directions. The tests check them on a
// 2-D Gaussian mixture whose conditional and unconditional eps and whose classifier are exact.

// The prediction after classifier guidance with scale s (Dhariwal & Nichol 2021, Algorithm 2): the eps
// whose score is the unconditional score plus s times the classifier's gradient. s = 1 gives the eps of
// p(x_t | y) exactly; s = 0 leaves eps unchanged.
//   eps            [B, ...] the unconditional prediction at x_t
//   grad_log_p_y   [B, ...] the gradient of log p(y | x_t) with respect to x_t, per example
//   alpha_bar_t    in (0, 1): the noise level of x_t
//   scale          s >= 0
//   returns        [B, ...]
torch::Tensor classifier_guided_eps(const torch::Tensor& eps, const torch::Tensor& grad_log_p_y, double alpha_bar_t,
                                    double scale);

// The other direction: the gradient of log p(y | x_t) that a conditional prediction and an unconditional
// one imply (the "implicit classifier" of classifier-free guidance).
//   eps_cond, eps_uncond   [B, ...] predictions at the same x_t and alpha_bar_t in (0, 1)
//   returns                [B, ...] grad_x log p(y | x_t)
torch::Tensor implicit_classifier_grad(const torch::Tensor& eps_cond, const torch::Tensor& eps_uncond,
                                       double alpha_bar_t);

// ---- 06.6 the noise-aware classifier: its training objective ----------------------------------------------
//
// Classifier guidance asks a classifier for grad log p(y | x_t) at every step of the reverse process, so the
// classifier must read noised images at every level: p_phi(y | x_t, t), trained on x_t drawn from q(x_t | x_0)
// with the timestep as an input (Dhariwal & Nichol 2021, section 4; lesson 06, "8. A classifier that reads
// noise"). The course's evaluation classifier, trained on clean images only, would be guessing there.

// A classifier network: the class scores (logits, before softmax) of x_t at timestep t.
//   x_t [B, ...] float, t [B] int64  ->  [B, K] float
using ClassifierFn = std::function<torch::Tensor(const torch::Tensor& x_t, const torch::Tensor& t)>;

// The parts classifier_loss is made of: the program passes the course's noise-aware classifier and your
// chapter-02 q_sample (02.3); a test passes recording fakes.
struct ClassifierLossParts {
  ClassifierFn classifier;
  std::function<torch::Tensor(const Schedule& s, const torch::Tensor& x0, const torch::Tensor& t,
                              const torch::Tensor& eps)>
      q_sample;  // 02.3
};

// The loss of one minibatch of the noise-aware classifier: its cross-entropy, averaged over the batch, on the
// images x0 noised to timestep t by the noise eps (each image its own t and eps), against their labels. The
// caller (chapter 03's train_step, 03.6) draws t and eps and does the rest of the step, as for 06.4.
//   parts   as above
//   s       the schedule;  x0 [B, ...] the clean images;  y [B] int64 their labels in 0..K-1
//   t       [B] int64 timesteps in 0..T-1;  eps [B, ...] the noise, x0's shape
//   returns a scalar tensor, the mean negative log-likelihood in nats (with its autograd graph)
torch::Tensor classifier_loss(const ClassifierLossParts& parts, const Schedule& s, const torch::Tensor& x0,
                              const torch::Tensor& y, const torch::Tensor& t, const torch::Tensor& eps);

// ---- 06.7 the classifier's gradient, by autograd --------------------------------------------------------

// grad_x log p_phi(y | x_t, t) for each sample of the batch: what 06.5's classifier_guided_eps adds to a
// network's eps at every step of guided sampling (lesson 06, "9. Guided sampling of the unconditional
// model"). The samplers of chapters 03 and 05 run without autograd (NoGradGuard); this function must work
// inside them.
//   classifier   logits of x_t at t (06.6's ClassifierFn): [B, ...] -> [B, K]
//   x_t          [B, ...] float, the current samples (not modified, and left as the caller gave it)
//   t            [B] int64;  y [B] int64 the classes asked for, in 0..K-1
//   returns      [B, ...] x_t's shape and dtype: row b is the gradient of log p_phi(y[b] | x_t[b], t[b]) with
//                respect to x_t[b] alone, a plain tensor (no autograd history)
torch::Tensor classifier_log_prob_grad(const ClassifierFn& classifier, const torch::Tensor& x_t, const torch::Tensor& t,
                                       const torch::Tensor& y);

}  // namespace dm::ch06
