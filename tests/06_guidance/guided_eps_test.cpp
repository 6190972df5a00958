// Exercise 06.3: the guided prediction, both passes in one batch.
// Over a recording fake network (ch06_reference.hpp) and parts that are right: checks one call on a
// batch of 2B (not two calls of B), the guided value in both conventions, that the second half asks
// parts.null_label(K) (not 0, not the labels again), that the halves are split in the order they were
// built, and what reaches parts.combine.
// Run one test: build/default/bin/test_06_exercises --gtest_filter='GuidedEps.*'
#include <gtest/gtest.h>

#include "06_guidance/guidance.hpp"
#include "ch06_reference.hpp"
#include "testing.hpp"

using namespace dm::ch06;
namespace t6 = dm::ch06::test;
using dm::testing::fixed_normal;
using dm::testing::tensors_close;

namespace {
struct Case {
  torch::Tensor x = fixed_normal({4, 1, 3, 3}, 631);
  torch::Tensor t = torch::tensor({10, 500, 999, 0}, torch::kLong);
  torch::Tensor y = torch::tensor({3, 0, 9, 5}, torch::kLong);
};
}  // namespace

TEST(GuidedEps, CallsTheNetworkOnceOnABatchOfTwoB) {
  Case c;
  t6::FakeNet net;
  guided_eps(t6::reference_parts(), net.fn(), c.x, c.t, c.y, 2.0, Convention::HoSalimansW, 10);
  if (net.calls == 2 && net.batch_sizes[0] == 4)
    ADD_FAILURE() << "likely mistake: two network calls of B: put both passes into one call of 2B";
  ASSERT_EQ(net.calls, 1) << "eps_theta must be called exactly once";
  EXPECT_EQ(net.batch_sizes[0], 8) << "one batch of 2B = 8";
}

TEST(GuidedEps, GivesTheGuidedPrediction) {
  Case c;
  for (auto [k, conv, s] :
       {std::tuple{2.0, Convention::HoSalimansW, 3.0}, std::tuple{4.5, Convention::GuidanceScale, 4.5}}) {
    t6::FakeNet net;
    auto got = guided_eps(t6::reference_parts(), net.fn(), c.x, c.t, c.y, k, conv, 10);
    auto expected = t6::expected_guided(net, c.x, c.t, c.y, s);
    t6::FakeNet q;
    auto ec = q(c.x, c.t, c.y), eu = q(c.x, c.t, torch::full_like(c.y, 10));
    auto e0 = q(c.x, c.t, torch::zeros_like(c.y));
    t6::name_mistake(t6::diagnose(
        got, expected,
        {{"the halves are swapped: the first B rows of the answer are the labels' pass, "
          "the last B the 'no label' pass, in the order the batch was built",
          ec + s * (eu - ec)},
         {"both halves had the labels y: the second half asks for 'no label' "
          "(parts.null_label(K)), so there was no guidance",
          ec},
         {"the unconditional half used id 0, a real class: ask parts.null_label(K)", e0 + s * (ec - e0)}}));
    EXPECT_TRUE(tensors_close(std::string("guided eps, ") + convention_name(conv), got, expected, 1e-5, 1e-5));
  }
}

TEST(GuidedEps, AsksPartsForTheNoLabelId) {
  Case c;
  t6::FakeNet net;
  net.K = 21;  // the fake's "no label" is 21 ...
  auto parts = t6::reference_parts();
  std::vector<std::int64_t> asked;
  parts.null_label = [&](std::int64_t K) {
    asked.push_back(K);
    return std::int64_t{21};  // ... which parts says, for K = 10
  };
  guided_eps(parts, net.fn(), c.x, c.t, c.y, 1.0, Convention::HoSalimansW, 10);
  ASSERT_EQ(net.calls, 1);
  auto labels = net.labels_seen[0];
  ASSERT_EQ(labels.size(0), 8);
  EXPECT_TRUE(torch::equal(labels.slice(0, 0, 4), c.y)) << "the first half carries the labels y, got " << labels;
  EXPECT_TRUE(torch::equal(labels.slice(0, 4, 8), torch::full({4}, 21, torch::kLong)))
      << "the second half carries parts.null_label(num_classes) for every row, got " << labels;
  ASSERT_FALSE(asked.empty()) << "ask parts.null_label(num_classes) for the id: never write it in";
  EXPECT_EQ(asked[0], 10) << "parts.null_label is asked with num_classes";
}

TEST(GuidedEps, HandsCombineTheTwoHalvesAndTheStrength) {
  Case c;
  t6::FakeNet net;
  auto parts = t6::reference_parts();
  double seen_strength = -1;
  Convention seen_conv = Convention::HoSalimansW;
  torch::Tensor seen_c, seen_u;
  parts.combine = [&](const torch::Tensor& ec, const torch::Tensor& eu, double k, Convention conv) {
    seen_c = ec, seen_u = eu, seen_strength = k, seen_conv = conv;
    return ec;
  };
  guided_eps(parts, net.fn(), c.x, c.t, c.y, 6.5, Convention::GuidanceScale, 10);
  t6::FakeNet q;
  ASSERT_TRUE(seen_c.defined()) << "mix the two predictions with parts.combine";
  EXPECT_TRUE(tensors_close("eps_c handed to combine", seen_c, q(c.x, c.t, c.y), 1e-6, 1e-6));
  EXPECT_TRUE(tensors_close("eps_u handed to combine", seen_u, q(c.x, c.t, torch::full_like(c.y, 10)), 1e-6, 1e-6));
  EXPECT_EQ(seen_strength, 6.5) << "the strength goes to combine unchanged";
  EXPECT_EQ(seen_conv, Convention::GuidanceScale) << "so does the convention";
}
