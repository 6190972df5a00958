// Exercise 06.4: joint training's loss (Ho & Salimans 2022, Algorithm 1).
// Over recording parts: checks that the network inside the loss sees the labels after parts.drop_labels
// (not the raw labels), with one uniform per image drawn once for the batch, that p_uncond and K reach
// drop_labels, that the caller's t and eps reach the loss unchanged, and that the loss keeps its graph.
// Run one test: build/default/bin/test_06_exercises --gtest_filter='CfgLoss.*'
#include <gtest/gtest.h>

#include "06_guidance/guidance.hpp"
#include "ch06_reference.hpp"
#include "testing.hpp"

using namespace dm::ch06;
namespace t6 = dm::ch06::test;
using dm::testing::fixed_normal;
using dm::testing::fixed_uniform;

namespace {
struct Recorder {
  t6::FakeNet net;
  std::vector<std::int64_t> uniform_sizes;
  torch::Tensor u;
  std::vector<std::pair<double, std::int64_t>> drop_args;
  torch::Tensor t_seen, eps_seen, param = torch::full({}, 1.5, torch::requires_grad());
  int loss_calls = 0;
  double loss_value = 0;

  CfgLossParts parts() {
    CfgLossParts p;
    p.eps_theta = [this](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) {
      return net(x, t, y) * param;  // a parameter, so the loss has a graph
    };
    p.uniforms = [this](std::int64_t B) {
      uniform_sizes.push_back(B);
      u = fixed_uniform({B}, 640 + std::uint64_t(uniform_sizes.size()), 0.0, 1.0);
      return u;
    };
    p.drop_labels = [this](const torch::Tensor& y, const torch::Tensor& uu, double pu, std::int64_t K) {
      drop_args.push_back({pu, K});
      return torch::where(uu < pu, torch::full_like(y, K), y);
    };
    p.loss = [this](const Schedule&, const dm::ch03::EpsModel& eps_theta, const torch::Tensor& x0,
                    const torch::Tensor& t, const torch::Tensor& eps) {
      ++loss_calls;
      t_seen = t, eps_seen = eps;
      auto l = (eps - eps_theta(x0 + eps, t)).pow(2).mean();
      loss_value = l.item<double>();
      return l;
    };
    return p;
  }
};

struct Batch {
  torch::Tensor x0 = fixed_normal({16, 1, 2, 2}, 641);
  torch::Tensor y = torch::arange(16, torch::kLong) % 10;
  torch::Tensor t = torch::arange(16, torch::kLong) * 60;
  torch::Tensor eps = fixed_normal({16, 1, 2, 2}, 642);
};
}  // namespace

TEST(CfgLoss, TheNetworkSeesTheDroppedLabels) {
  Recorder r;
  Batch b;
  const auto loss = cfg_loss(r.parts(), t6::linear_schedule(), b.x0, b.y, b.t, b.eps, 0.3, 10);
  ASSERT_FALSE(r.net.labels_seen.empty()) << "the loss must call the network";
  ASSERT_TRUE(r.u.defined()) << "draw the batch's uniforms with parts.uniforms";
  if (r.uniform_sizes == std::vector<std::int64_t>{1})
    ADD_FAILURE() << "likely mistake: one uniform for the whole batch drops all labels or none; draw one per image";
  EXPECT_NEAR(loss.item<double>(), r.loss_value, 1e-12) << "the loss is L_simple's value (parts.loss), unchanged";
  auto want = torch::where(r.u < 0.3, torch::full_like(b.y, 10), b.y);
  if (torch::equal(r.net.labels_seen.back(), torch::where(r.u < 0.7, torch::full_like(b.y, 10), b.y)))
    ADD_FAILURE() << "likely mistake: 1 - p_uncond was passed: p_uncond is the probability of dropping";
  const auto& seen = r.net.labels_seen.back();
  if (torch::equal(seen, b.y))
    ADD_FAILURE() << "likely mistake: the network saw the labels undropped: pass them through parts.drop_labels";
  EXPECT_TRUE(torch::equal(seen, want)) << "labels seen " << seen << "\nexpected " << want;
}

TEST(CfgLoss, DrawsOneUniformPerImageOncePerBatch) {
  Recorder r;
  Batch b;
  cfg_loss(r.parts(), t6::linear_schedule(), b.x0, b.y, b.t, b.eps, 0.1, 10);
  if (r.uniform_sizes.size() == 1 && r.uniform_sizes[0] == 1)
    ADD_FAILURE() << "likely mistake: one uniform for the whole batch drops all labels or none; draw one per image";
  ASSERT_EQ(r.uniform_sizes.size(), 1u) << "parts.uniforms is called once for the batch";
  EXPECT_EQ(r.uniform_sizes[0], 16) << "one draw per image";
}

TEST(CfgLoss, PassesPUncondAndTheNumberOfClasses) {
  Recorder r;
  Batch b;
  cfg_loss(r.parts(), t6::linear_schedule(), b.x0, b.y, b.t, b.eps, 0.2, 13);
  ASSERT_EQ(r.drop_args.size(), 1u) << "drop the labels once, with parts.drop_labels";
  if (std::abs(r.drop_args[0].first - 0.8) < 1e-12)
    ADD_FAILURE() << "likely mistake: 1 - p_uncond was passed: p_uncond is the probability of dropping";
  EXPECT_EQ(r.drop_args[0].first, 0.2);
  EXPECT_EQ(r.drop_args[0].second, 13);
}

TEST(CfgLoss, IsTheLossOfTheCallersDraws) {
  Recorder r;
  Batch b;
  auto loss = cfg_loss(r.parts(), t6::linear_schedule(), b.x0, b.y, b.t, b.eps, 0.1, 10);
  ASSERT_EQ(r.loss_calls, 1) << "L_simple (parts.loss) once for the batch";
  EXPECT_TRUE(torch::equal(r.t_seen, b.t)) << "the caller's t reaches the loss unchanged (it has drawn them)";
  EXPECT_TRUE(torch::equal(r.eps_seen, b.eps)) << "the caller's eps reaches the loss unchanged";
  ASSERT_EQ(loss.dim(), 0) << "a scalar";
  EXPECT_NEAR(loss.item<double>(), r.loss_value, 1e-12) << "the loss is parts.loss's value, unchanged";
  EXPECT_TRUE(loss.requires_grad()) << "the loss keeps its graph (do not detach it or take .item())";
  loss.backward();
  EXPECT_TRUE(r.param.grad().defined());
}
