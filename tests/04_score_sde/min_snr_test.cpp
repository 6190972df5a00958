// Exercise 04.6: min-SNR-gamma loss weights (Hang et al. 2023).
// Checks the reference values (golden); the published rule for eps-prediction,
// w = min(SNR, gamma) / SNR (naming the usual slips); and the property that defines all four:
// weight times the squared error in the kind's own space equals min(SNR, gamma) ||x0 error||^2.
// Run one test: build/default/bin/test_04_exercises --gtest_filter='MinSnr.*'
#include <gtest/gtest.h>

#include <fmt/core.h>

#include "04_score_sde/param.hpp"
#include "ch04_reference.hpp"
#include "testing.hpp"

using namespace dm::ch04;
namespace t4 = dm::ch04::test;
using dm::testing::fixed_normal;
using dm::testing::golden;
using dm::testing::tensors_close;

namespace {
const std::vector<Prediction> kKinds = {Prediction::Eps, Prediction::X0, Prediction::V, Prediction::Score};
torch::Tensor snrs() { return torch::tensor({1e-4, 0.05, 1.0, 4.9, 5.0, 5.1, 50.0, 1e4}, torch::kFloat64); }
}  // namespace

TEST(MinSnr, MatchesReferenceOnGoldenValues) {
  for (auto k : kKinds)
    EXPECT_TRUE(golden(t4::kGolden, fmt::format("min_snr/{}", name(k)), min_snr_weight(snrs(), 5.0, k), 1e-12, 1e-9));
}

TEST(MinSnr, EpsPredictionWeightIsMinSnrOverSnr) {
  const auto snr = snrs();
  const auto w = min_snr_weight(snr, 5.0, Prediction::Eps);
  const auto expected = snr.clamp_max(5.0) / snr;  // 1 while snr <= gamma, gamma / snr above
  const auto m = t4::diagnose(
      w, expected,
      {{"that is min(SNR, gamma), the x0-prediction weight; for eps-prediction divide by SNR", snr.clamp_max(5.0)},
       {"that is gamma / SNR without the min: low-SNR steps must keep weight 1", 5.0 / snr},
       {"that is min(SNR, gamma) / (SNR + 1), the v-prediction weight", snr.clamp_max(5.0) / (snr + 1)}});
  if (!m.empty()) ADD_FAILURE() << "likely mistake: " << m;
  EXPECT_TRUE(tensors_close("min(snr, 5) / snr", w, expected, 1e-12, 1e-12));
  EXPECT_NEAR(min_snr_weight(torch::tensor({10.0}, torch::kFloat64), 5.0, Prediction::Eps).item<double>(), 0.5, 1e-12)
      << "SNR 10, gamma 5: weight 0.5";
  EXPECT_EQ(w.scalar_type(), torch::kFloat64);
  EXPECT_EQ(min_snr_weight(snr.to(torch::kFloat32), 5.0, Prediction::Eps).scalar_type(), torch::kFloat32)
      << "weights keep the dtype of snr";
}

TEST(MinSnr, EveryKindGivesTheSameX0Loss) {
  // For a prediction error in one kind's space, the implied x0 error follows from the conversions
  // (written out here); w ||d kind||^2 must equal min(snr, gamma) ||d x0||^2 for every kind.
  const auto snr = snrs().view({-1, 1});  // [8, 1]
  const auto ab = snr / (1 + snr), a = ab.sqrt(), s = (1 - ab).sqrt();
  const auto d_eps = fixed_normal({8, 2}, 51).to(torch::kFloat64);  // an error in eps
  const auto d_x0 = -s / a * d_eps;                                 // x0 = (x_t - s eps) / a
  const auto d_v = d_eps / a;                                       // v = (eps - s x_t) / a
  const auto d_score = -d_eps / s;                                  // score = -eps / s
  const auto target = snr.clamp_max(5.0).squeeze(1) * d_x0.square().sum(1);
  const std::vector<std::pair<Prediction, torch::Tensor>> errors = {
      {Prediction::Eps, d_eps}, {Prediction::X0, d_x0}, {Prediction::V, d_v}, {Prediction::Score, d_score}};
  for (const auto& [kind, d] : errors) {
    const auto w = min_snr_weight(snr.squeeze(1), 5.0, kind);
    EXPECT_TRUE(tensors_close(fmt::format("{}: w ||d {}||^2 = min(snr, 5) ||d x0||^2", name(kind), name(kind)),
                              w * d.square().sum(1), target, 1e-12, 1e-9));
  }
}
