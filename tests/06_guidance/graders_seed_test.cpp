// Chapter 06 at the grader's seed: one test per exercise whose inputs (the number of classes, labels,
// draws, p_uncond, strengths, tensors, alpha_bar_t, the mixture's weights, means and widths) are drawn
// at run time from DM_GRADE_SEED, which `./course grade` draws for every run, so outputs hard-coded for
// the fixed inputs of the other tests do not pass. Each truth is computed here, not by another exercise:
// label dropout and the two conventions written out (06.1, 06.2), the guided prediction over the
// recording fake network with right parts (06.3, none of 06.1's or 06.2's code runs), the loss over
// recording parts (06.4), the exact mixture's eps and classifier (06.5), the cross-entropy of a linear
// classifier on images noised by a q_sample written out here, by loops (06.6; chapter 02's code does not
// run), and that classifier's gradient of log p(y | x_t) in closed form, W_y - sum_k p_k W_k (06.7); for
// inpainting, on a schedule of drawn betas built here, the replacement step over recording fakes of the
// reverse step and q_sample, written out, at a drawn level and at t = 0 (06.8), the jump's closed form with
// the product of the alphas of the steps after t taken by a loop (06.9), RePaint's order from a walk that
// counts its arrivals at each jump point, for a drawn T, jump and resamplings (06.10), and the sampler's
// calls and result over recording fakes of its parts along that order, the walk written out (06.11).
// Failures name the seed; reproduce them with `./course grade --seed N`.
// Run: DM_GRADE_SEED=7 build/default/bin/test_06_exercises --gtest_filter='*AtTheGradersSeed'
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "06_guidance/guidance.hpp"
#include "06_guidance/inpainting.hpp"
#include "ch06_inpainting_reference.hpp"
#include "ch06_reference.hpp"
#include "testing.hpp"

using namespace dm::ch06;
namespace t6 = dm::ch06::test;
using dm::testing::seed_note;
using dm::testing::seeded_normal;
using dm::testing::seeded_scalar;
using dm::testing::seeded_steps;
using dm::testing::seeded_uniform;
using dm::testing::tensors_close;

TEST(DropLabels, DropsWhereTheDrawIsBelowPAtTheGradersSeed) {
  const auto K = seeded_steps(1, 2, 1000, 661)[0].item<std::int64_t>();
  const std::int64_t B = 64;
  auto y = seeded_steps(B, 0, K - 1, 662);
  auto u = seeded_uniform({B}, 663, 0.0, 1.0);
  const double p = seeded_scalar(664, 0.05, 0.95);
  auto got = drop_labels(y, u, p, K);
  auto expected = torch::where(u < p, torch::full_like(y, K), y);
  EXPECT_TRUE(torch::equal(got, expected)) << "K = " << K << ", p_uncond = " << p << seed_note();
  EXPECT_EQ(null_label(K), K) << seed_note();
}

TEST(CfgCombine, MatchesBothConventionsAtTheGradersSeed) {
  auto c = seeded_normal({3, 1, 4, 4}, 665), u = seeded_normal({3, 1, 4, 4}, 666);
  const double w = seeded_scalar(667, 0.1, 8.0);
  EXPECT_TRUE(tensors_close("w = " + std::to_string(w), cfg_combine(c, u, w, Convention::HoSalimansW),
                            (1 + w) * c - w * u, 1e-5, 1e-5))
      << seed_note();
  EXPECT_TRUE(tensors_close("guidance_scale = " + std::to_string(w + 1),
                            cfg_combine(c, u, w + 1, Convention::GuidanceScale), u + (w + 1) * (c - u), 1e-5, 1e-5))
      << seed_note();
}

TEST(GuidedEps, MatchesTheGuidedPredictionAtTheGradersSeed) {
  const std::int64_t B = 6;
  const auto K = seeded_steps(1, 2, 50, 668)[0].item<std::int64_t>();
  auto x = seeded_normal({B, 1, 3, 3}, 669);
  auto t = seeded_steps(B, 0, 999, 670);
  auto y = seeded_steps(B, 0, K - 1, 671);
  const double s = seeded_scalar(672, 1.0, 9.0);
  t6::FakeNet net;
  net.K = K;
  auto got = guided_eps(t6::reference_parts(), net.fn(), x, t, y, s, Convention::GuidanceScale, K);
  EXPECT_EQ(net.calls, 1) << seed_note();
  EXPECT_TRUE(tensors_close("guided eps, guidance_scale " + std::to_string(s), got,
                            t6::expected_guided(net, x, t, y, s), 1e-5, 1e-5))
      << seed_note();
}

TEST(CfgLoss, IsLSimpleOnTheDroppedLabelsAtTheGradersSeed) {
  const std::int64_t B = 12;
  const auto K = seeded_steps(1, 2, 30, 673)[0].item<std::int64_t>();
  const double p = seeded_scalar(674, 0.1, 0.9);
  auto x0 = seeded_normal({B, 1, 2, 2}, 675), eps = seeded_normal({B, 1, 2, 2}, 676);
  auto y = seeded_steps(B, 0, K - 1, 677);
  auto t = seeded_steps(B, 0, 999, 678);
  auto u = seeded_uniform({B}, 679, 0.0, 1.0);
  t6::FakeNet net;
  net.K = K;
  CfgLossParts parts;
  parts.eps_theta = net.fn();
  parts.uniforms = [&](std::int64_t) { return u; };
  parts.drop_labels = [](const torch::Tensor& yy, const torch::Tensor& uu, double pu, std::int64_t k) {
    return torch::where(uu < pu, torch::full_like(yy, k), yy);
  };
  parts.loss = [](const Schedule&, const dm::ch03::EpsModel& f, const torch::Tensor& a, const torch::Tensor& tt,
                  const torch::Tensor& e) { return (e - f(a + 2 * e, tt)).pow(2).mean(); };
  Schedule s;
  s.beta = torch::full({1000}, 0.01, torch::kFloat64);
  s.alpha = 1 - s.beta;
  s.alpha_bar = torch::cumprod(s.alpha, 0);
  auto got = cfg_loss(parts, s, x0, y, t, eps, p, K);
  t6::FakeNet q;
  q.K = K;
  auto want = (eps - q(x0 + 2 * eps, t, torch::where(u < p, torch::full_like(y, K), y))).pow(2).mean();
  EXPECT_NEAR(got.item<double>(), want.item<double>(), 1e-6) << "K = " << K << ", p_uncond = " << p << seed_note();
}

TEST(ClassifierGuidance, MatchesTheMixtureAtTheGradersSeed) {
  t6::Mixture mix;
  auto w = seeded_uniform({4}, 680, 0.2, 1.0).to(torch::kFloat64);
  mix.pi = w / w.sum();
  mix.mu = seeded_normal({4, 2}, 681).to(torch::kFloat64) * 2;
  mix.s = seeded_uniform({4}, 682, 0.2, 0.8).to(torch::kFloat64);
  const double ab = seeded_scalar(683, 0.05, 0.95), sc = seeded_scalar(684, 0.5, 5.0);
  auto x = seeded_normal({32, 2}, 685).to(torch::kFloat64) * 2;
  auto y = seeded_steps(32, 0, 3, 686);
  auto eu = mix.eps_uncond(x, ab), ec = mix.eps_cond(x, y, ab);
  auto g = mix.classifier_grad_fd(x, y, ab);
  EXPECT_TRUE(tensors_close("classifier-guided eps, s = " + std::to_string(sc), classifier_guided_eps(eu, g, ab, sc),
                            eu + sc * (ec - eu), 1e-6, 1e-5))
      << "alpha_bar_t = " << ab << seed_note();
  EXPECT_TRUE(tensors_close("implicit classifier gradient", implicit_classifier_grad(ec, eu, ab), g, 1e-6, 1e-5))
      << "alpha_bar_t = " << ab << seed_note();
}

TEST(ClassifierLoss, IsTheCrossEntropyOnNoisedImagesAtTheGradersSeed) {
  const std::int64_t B = 10;
  const auto K = seeded_steps(1, 2, 12, 6601)[0].item<std::int64_t>();
  auto x0 = seeded_normal({B, 1, 2, 2}, 6602), eps = seeded_normal({B, 1, 2, 2}, 6603);
  auto y = seeded_steps(B, 0, K - 1, 6604);
  auto t = seeded_steps(B, 0, 999, 6605);
  auto W = seeded_normal({K, 4}, 6606), v = seeded_normal({K}, 6607);
  const double beta = seeded_scalar(6608, 0.002, 0.02);
  Schedule s;
  s.beta = torch::full({1000}, beta, torch::kFloat64);
  s.alpha = 1 - s.beta;
  s.alpha_bar = torch::cumprod(s.alpha, 0);
  auto q = [](const Schedule& sc, const torch::Tensor& a, const torch::Tensor& tt, const torch::Tensor& e) {
    auto ab = sc.alpha_bar.index_select(0, tt).to(a.scalar_type()).view({-1, 1, 1, 1});
    return ab.sqrt() * a + (1 - ab).sqrt() * e;
  };
  auto logits = [&](const torch::Tensor& x, const torch::Tensor& tt) {
    return x.flatten(1).matmul(W.t()) + 0.003 * tt.to(x.scalar_type()).unsqueeze(1) * v;
  };
  ClassifierLossParts parts;
  parts.q_sample = q;
  parts.classifier = logits;
  auto got = classifier_loss(parts, s, x0, y, t, eps);
  ASSERT_EQ(got.numel(), 1) << "a scalar" << seed_note();
  const double want = t6::mean_nll(logits(q(s, x0, t, eps), t), y);
  EXPECT_NEAR(got.item<double>(), want, 1e-5 * std::max(1.0, want)) << "K = " << K << seed_note();
}

TEST(ClassifierGrad, IsTheLogPosteriorGradientAtTheGradersSeed) {
  const std::int64_t B = 9;
  const auto K = seeded_steps(1, 2, 12, 6701)[0].item<std::int64_t>();
  t6::LinearClassifier c{seeded_normal({K, 6}, 6702).to(torch::kFloat64), seeded_normal({K}, 6703).to(torch::kFloat64),
                         seeded_normal({K}, 6704).to(torch::kFloat64), seeded_scalar(6705, 0.0005, 0.003)};
  auto x = seeded_normal({B, 1, 2, 3}, 6706).to(torch::kFloat64) * seeded_scalar(6707, 0.5, 2.0);
  auto t = seeded_steps(B, 0, 999, 6708);
  auto y = seeded_steps(B, 0, K - 1, 6709);
  EXPECT_TRUE(tensors_close("grad_x log p(y | x_t, t)", classifier_log_prob_grad(c.fn(), x, t, y),
                            c.grad_log_p(x, t, y), 1e-9, 1e-7))
      << "K = " << K << seed_note();
}

TEST(InpaintStep, MatchesTheReplacementStepAtTheGradersSeed) {
  const auto T = seeded_steps(1, 2, 40, 6801)[0].item<std::int64_t>();
  const auto s = t6::schedule_of(seeded_uniform({T}, 6802, 0.01, 0.3));
  const auto B = seeded_steps(1, 1, 5, 6803)[0].item<std::int64_t>();
  const auto C = seeded_steps(1, 1, 3, 6804)[0].item<std::int64_t>();
  const auto H = seeded_steps(1, 2, 6, 6805)[0].item<std::int64_t>();
  auto x = seeded_normal({B, C, H, H}, 6806), eps = seeded_normal({B, C, H, H}, 6807);
  auto z = seeded_normal({B, C, H, H}, 6808), ek = seeded_normal({B, C, H, H}, 6809);
  auto known = seeded_uniform({B, C, H, H}, 6810, -1.0, 1.0);
  auto mask = (seeded_uniform({B, 1, H, H}, 6811, 0.0, 1.0) < 0.6).to(torch::kFloat32);
  const auto t = seeded_steps(1, 1, T - 1, 6812)[0].item<std::int64_t>();
  for (std::int64_t level : {t, std::int64_t{0}}) {
    t6::StepRecorder r;
    auto got = inpaint_step(r.parts(), s, x, level, eps, z, known, mask, ek);
    EXPECT_TRUE(tensors_close("the replacement step at t = " + std::to_string(level), got,
                              t6::expected_step(s, x, level, eps, z, known, mask, ek), 1e-6, 1e-5))
        << "T = " << T << seed_note();
  }
}

TEST(QJump, MatchesTheClosedFormAtTheGradersSeed) {
  const auto T = seeded_steps(1, 3, 60, 6901)[0].item<std::int64_t>();
  const auto s = t6::schedule_of(seeded_uniform({T}, 6902, 0.001, 0.2));
  const auto t = seeded_steps(1, 0, T - 2, 6903)[0].item<std::int64_t>();
  const auto t_to = seeded_steps(1, t + 1, T - 1, 6904)[0].item<std::int64_t>();
  auto x = seeded_normal({4, 1, 3, 3}, 6905), z = seeded_normal({4, 1, 3, 3}, 6906);
  double kept = 1;  // what the steps t + 1 .. t_to keep of x_t's variance, one factor at a time
  for (std::int64_t k = t + 1; k <= t_to; ++k) kept *= s.alpha[k].item<double>();
  EXPECT_TRUE(tensors_close("q_jump " + std::to_string(t) + " -> " + std::to_string(t_to), q_jump(s, x, t, t_to, z),
                            std::sqrt(kept) * x + std::sqrt(1 - kept) * z, 1e-5, 1e-5))
      << "T = " << T << seed_note();
}

TEST(RepaintSchedule, MatchesTheOrderAtTheGradersSeed) {
  const auto T = seeded_steps(1, 2, 64, 61001)[0].item<std::int64_t>();
  const auto jump = seeded_steps(1, 1, T - 1, 61002)[0].item<std::int64_t>();
  const auto r = seeded_steps(1, 2, 5, 61003)[0].item<std::int64_t>();
  const auto got = repaint_schedule(T, jump, r);
  const auto want = t6::walk_order(T, jump, r);
  EXPECT_TRUE(got == want) << "T = " << T << ", jump = " << jump << ", resamplings = " << r << ": "
                           << t6::first_difference(got, want) << "; expected " << t6::join(want, 40) << "; got "
                           << t6::join(got, 40) << seed_note();
}

TEST(Repaint, MatchesTheWalkAtTheGradersSeed) {
  const auto T = seeded_steps(1, 2, 30, 61101)[0].item<std::int64_t>();
  const auto jump = seeded_steps(1, 1, T - 1, 61102)[0].item<std::int64_t>();
  const auto r = seeded_steps(1, 2, 4, 61103)[0].item<std::int64_t>();
  const auto levels = t6::walk_order(T, jump, r);
  const auto B = seeded_steps(1, 1, 4, 61104)[0].item<std::int64_t>();
  const auto H = seeded_steps(1, 2, 5, 61105)[0].item<std::int64_t>();
  auto x_T = seeded_normal({B, 1, H, H}, 61106), known = seeded_uniform({B, 1, H, H}, 61107, -1.0, 1.0);
  auto mask = (seeded_uniform({B, 1, H, H}, 61108, 0.0, 1.0) < 0.5).to(torch::kFloat32);
  t6::WalkRecorder rec;
  auto got = repaint(rec.parts(), levels, x_T, known, mask, rec.on_move());
  const auto want = t6::expected_events(levels, true);
  const auto order = "the order of T = " + std::to_string(T) + ", jump = " + std::to_string(jump) +
                     ", resamplings = " + std::to_string(r);
  EXPECT_TRUE(rec.events == want) << order << ": the calls of its parts, " << t6::first_difference(rec.events, want)
                                  << seed_note();
  EXPECT_TRUE(tensors_close("repaint's result", got, t6::expected_walk(levels, x_T, known, mask).back(), 1e-5, 1e-5))
      << order << seed_note();
}
