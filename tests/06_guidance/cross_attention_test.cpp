// Exercise 06.12: scaled dot-product attention with a padding mask (cross-attention and the text encoder's
// self-attention). The truth is attention written out here by loops over scalars in double: each query's
// scores against its row's real tokens, times 1/sqrt(d), their softmax over the tokens, and the values mixed
// by those weights. Checks it with more tokens than queries and values of another width (e != d), for
// self-attention (N = L), with more queries than tokens, and at the grader's seed; and the properties that
// need no reference: every query's weights are a distribution over its row's real tokens (non-negative,
// summing to 1, exactly 0 on padding), changing the padding's keys and values to huge numbers changes
// nothing, permuting the tokens (keys, values and mask together) permutes the weights and leaves the output
// alone, identical keys share the weight equally, the log-ratio of two tokens' weights is their score gap
// over sqrt(d) for several d, each row of a batch gives what it gives alone, and the output is the mix of
// the values by the weights returned.
// Names the slips: the softmax over the queries, the mask ignored, inverted, applied to the queries, taken
// from the batch's first row, padding zeroed after the softmax without renormalising, no temperature, 1/d,
// the values' width e, sqrt(d) as a factor, the output mixed by unmasked or transposed weights or from the
// keys, weights that ignore the scores.
// Run one test: build/default/bin/test_06_exercises --gtest_filter='CrossAttention.*'
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "06_guidance/text.hpp"
#include "ch06_reference.hpp"
#include "testing.hpp"

using namespace dm::ch06;
namespace t6 = dm::ch06::test;
using dm::nn::AttentionResult;
using dm::testing::fixed_normal;
using dm::testing::seed_note;
using dm::testing::seeded_normal;
using dm::testing::seeded_steps;
using dm::testing::tensors_close;

namespace {

const char* kOverQueries =
    "the softmax ran over the queries (axis N), not over the tokens (axis L): each query's weights must be a "
    "distribution over its row's tokens";
const char* kMaskIgnored = "the mask was ignored: padding tokens get weight";
const char* kMaskInverted = "the mask is inverted: the weights go to the padding, not to the real tokens";
const char* kZeroedAfter =
    "padding was zeroed after the softmax, without renormalising: the real tokens' weights sum to less than 1";
const char* kFirstRowMask = "every row of the batch used the first row's mask, not its own";
const char* kMaskOnQueries = "the mask was applied to the queries (rows of the scores), not to the keys";
const char* kNoScale = "the scores are not scaled (temperature 1): their spread grows with d";
const char* kScaleD = "the scores were divided by d, not by sqrt(d)";
const char* kScaleE = "the scores were scaled by the values' width e, not by the keys' width d";
const char* kScaleTimes = "the scores were multiplied by sqrt(d), not divided by it";
const char* kUnmaskedOutput =
    "the output mixes the values by unmasked weights, not by the returned ones: padding leaks into the output";
const char* kTransposed = "the output mixes the values by the transposed weights (token by query, not query by token)";
const char* kMixesKeys = "the output mixes the keys, not the values";
const char* kUniform = "the weights do not depend on the scores: every real token gets the same weight";

// ---- attention written out ---------------------------------------------------------------------------

// Which tokens a softmax may give weight to: the real keys (right), or a slip's choice.
enum class Mask { Keys, Ignored, Inverted, ZeroedAfter, FirstRow, OnQueries };

struct Way {
  double scale;               // the scores' factor (1 / sqrt(d) is right)
  bool over_queries = false;  // the softmax over n for each token, not over l for each query
  Mask mask = Mask::Keys;
};

// The weights [B, N, L] in double, by loops; NaN where the way leaves a weight undefined (a softmax over
// nothing: what -inf everywhere gives).
torch::Tensor loop_weights(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& key_mask,
                           const Way& way) {
  const auto qd = q.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  const auto kd = k.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  const auto md = key_mask.to(torch::kCPU, torch::kBool).contiguous();
  const auto qa = qd.accessor<double, 3>();
  const auto ka = kd.accessor<double, 3>();
  const auto ma = md.accessor<bool, 2>();
  const auto B = q.size(0), N = q.size(1), L = k.size(1), d = q.size(2);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto out = torch::zeros({B, N, L}, torch::kFloat64);
  auto oa = out.accessor<double, 3>();
  for (std::int64_t b = 0; b < B; ++b) {
    std::vector<std::vector<double>> s(N, std::vector<double>(L));
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t l = 0; l < L; ++l) {
        double dot = 0;
        for (std::int64_t i = 0; i < d; ++i) dot += qa[b][n][i] * ka[b][l][i];
        s[n][l] = way.scale * dot;
      }
    auto allowed = [&](std::int64_t n, std::int64_t l) {
      switch (way.mask) {
        case Mask::Keys:
          return ma[b][l];
        case Mask::Inverted:
          return !ma[b][l];
        case Mask::FirstRow:
          return ma[0][l];
        case Mask::OnQueries:
          return ma[b][n];  // only where N == L
        default:
          return true;  // Ignored, ZeroedAfter
      }
    };
    if (!way.over_queries) {
      for (std::int64_t n = 0; n < N; ++n) {
        double m = -std::numeric_limits<double>::infinity(), z = 0;
        for (std::int64_t l = 0; l < L; ++l)
          if (allowed(n, l)) m = std::max(m, s[n][l]);
        for (std::int64_t l = 0; l < L; ++l)
          if (allowed(n, l)) z += std::exp(s[n][l] - m);
        for (std::int64_t l = 0; l < L; ++l) oa[b][n][l] = z == 0 ? nan : allowed(n, l) ? std::exp(s[n][l] - m) / z : 0;
      }
    } else {
      for (std::int64_t l = 0; l < L; ++l) {
        double m = -std::numeric_limits<double>::infinity(), z = 0;
        for (std::int64_t n = 0; n < N; ++n)
          if (allowed(n, l)) m = std::max(m, s[n][l]);
        for (std::int64_t n = 0; n < N; ++n)
          if (allowed(n, l)) z += std::exp(s[n][l] - m);
        for (std::int64_t n = 0; n < N; ++n) oa[b][n][l] = z == 0 ? nan : allowed(n, l) ? std::exp(s[n][l] - m) / z : 0;
      }
    }
    if (way.mask == Mask::ZeroedAfter)
      for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t l = 0; l < L; ++l)
          if (!ma[b][l]) oa[b][n][l] = 0;
  }
  return out;
}

// sum_l w[b, n, l] x[b, l, :], by loops in double: w [B, N, L], x [B, L, e] -> [B, N, e].
torch::Tensor loop_mix(const torch::Tensor& w, const torch::Tensor& x) {
  const auto wd = w.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  const auto xd = x.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  const auto wa = wd.accessor<double, 3>();
  const auto xa = xd.accessor<double, 3>();
  const auto B = w.size(0), N = w.size(1), L = w.size(2), e = x.size(2);
  auto out = torch::zeros({B, N, e}, torch::kFloat64);
  auto oa = out.accessor<double, 3>();
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t j = 0; j < e; ++j) {
        double acc = 0;
        for (std::int64_t l = 0; l < L; ++l) acc += wa[b][n][l] * xa[b][l][j];
        oa[b][n][j] = acc;
      }
  return out;
}

double right_scale(const torch::Tensor& q) { return 1.0 / std::sqrt(double(q.size(2))); }

struct Truth {
  torch::Tensor weights, output;  // float64
};

Truth written_out(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                  const torch::Tensor& key_mask) {
  auto w = loop_weights(q, k, key_mask, {right_scale(q)});
  return {w, loop_mix(w, v)};
}

constexpr double kAtol = 1e-5, kRtol = 1e-4;

std::vector<double> flat(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

// `got` agrees with `want` wherever `want` is defined (not NaN).
bool agrees(const torch::Tensor& got, const torch::Tensor& want) {
  if (!got.defined() || got.sizes() != want.sizes()) return false;
  const auto g = flat(got), w = flat(want);
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(w[i])) continue;
    if (!std::isfinite(g[i]) || std::abs(g[i] - w[i]) > kAtol + kRtol * std::abs(w[i])) return false;
  }
  return true;
}

// `slip` differs from `right` somewhere it is defined: agreeing with it is evidence of the slip.
bool differs(const torch::Tensor& slip, const torch::Tensor& right) {
  const auto s = flat(slip), r = flat(right);
  for (std::size_t i = 0; i < s.size(); ++i)
    if (!std::isnan(s[i]) && !(std::abs(s[i] - r[i]) <= 10 * (kAtol + kRtol * std::abs(r[i])))) return true;
  return false;
}

// The named slip that `got` matches (weights and output), or "".
std::string attention_mistake(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                              const torch::Tensor& key_mask, const AttentionResult& got) {
  const auto B = q.size(0), N = q.size(1), L = k.size(1), d = q.size(2), e = v.size(2);
  if (!got.weights.defined() || !got.output.defined() || got.weights.sizes() != torch::IntArrayRef({B, N, L}))
    return "";
  const auto right = written_out(q, k, v, key_mask);
  if (agrees(got.weights, right.weights) && agrees(got.output, right.output)) return "";
  struct Slip {
    const char* name;
    torch::Tensor weights, output;
  };
  std::vector<Slip> slips;
  const double s = right_scale(q);
  auto way = [&](const char* name, const Way& w) {
    auto wt = loop_weights(q, k, key_mask, w);
    slips.push_back({name, wt, loop_mix(wt, v)});
  };
  way(kMaskIgnored, {s, false, Mask::Ignored});
  way(kZeroedAfter, {s, false, Mask::ZeroedAfter});
  way(kMaskInverted, {s, false, Mask::Inverted});
  if (B > 1) way(kFirstRowMask, {s, false, Mask::FirstRow});
  if (N > 1) way(kOverQueries, {s, true});
  if (N == L) way(kMaskOnQueries, {s, false, Mask::OnQueries});
  way(kNoScale, {1.0});
  way(kScaleD, {1.0 / double(d)});
  if (e != d) way(kScaleE, {1.0 / std::sqrt(double(e))});
  way(kScaleTimes, {std::sqrt(double(d))});
  way(kUniform, {0.0});
  slips.push_back(
      {kUnmaskedOutput, right.weights, loop_mix(loop_weights(q, k, key_mask, {s, false, Mask::Ignored}), v)});
  if (N == L) slips.push_back({kTransposed, right.weights, loop_mix(right.weights.transpose(1, 2), v)});
  slips.push_back({kMixesKeys, right.weights, loop_mix(right.weights, k)});
  for (const auto& slip : slips) {
    const bool evidence = differs(slip.weights, right.weights) ||
                          (slip.output.sizes() == right.output.sizes() ? differs(slip.output, right.output) : true);
    if (evidence && agrees(got.weights, slip.weights) && agrees(got.output, slip.output)) return slip.name;
  }
  return "";
}

// Calls the exercise, names the slip its answer matches, and compares it with attention written out.
void expect_written_out(const std::string& what, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& key_mask, const std::string& note = "") {
  const auto got = cross_attention(q, k, v, key_mask);
  t6::name_mistake(attention_mistake(q, k, v, key_mask, got), note);
  const auto want = written_out(q, k, v, key_mask);
  ASSERT_TRUE(got.weights.defined() && got.output.defined()) << what << ": both results must be set" << note;
  EXPECT_TRUE(tensors_close(what + ", weights [B, N, L]", got.weights, want.weights, kAtol, kRtol)) << note;
  EXPECT_TRUE(tensors_close(what + ", output [B, N, e]", got.output, want.output, kAtol, kRtol)) << note;
}

// [B, L] bool: row b true on its first lengths[b] tokens (<start>, the words), false on the padding after.
torch::Tensor prefix_mask(const std::vector<std::int64_t>& lengths, std::int64_t L) {
  auto len = torch::tensor(lengths, torch::kLong);
  return torch::arange(L, torch::kLong).unsqueeze(0) < len.unsqueeze(1);
}

std::string shapes(std::int64_t B, std::int64_t N, std::int64_t L, std::int64_t d, std::int64_t e) {
  return "B = " + std::to_string(B) + ", N = " + std::to_string(N) + ", L = " + std::to_string(L) +
         ", d = " + std::to_string(d) + ", e = " + std::to_string(e);
}

}  // namespace

TEST(CrossAttention, MatchesAttentionWrittenOut) {
  // more tokens than queries, values narrower than keys, a different amount of padding in each row
  const std::int64_t B = 3, N = 5, L = 7, d = 8, e = 3;
  auto q = fixed_normal({B, N, d}, 6121), k = fixed_normal({B, L, d}, 6122), v = fixed_normal({B, L, e}, 6123);
  expect_written_out(shapes(B, N, L, d, e), q, k, v, prefix_mask({3, 7, 5}, L));
}

TEST(CrossAttention, MatchesSelfAttentionOverTheTokens) {
  // the text encoder's case: queries, keys and values all one per token (N = L), of one width (e = d)
  const std::int64_t B = 2, L = 6, d = 4;
  auto q = fixed_normal({B, L, d}, 6124), k = fixed_normal({B, L, d}, 6125), v = fixed_normal({B, L, d}, 6126);
  expect_written_out(shapes(B, L, L, d, d), q, k, v, prefix_mask({6, 3}, L));
}

TEST(CrossAttention, MatchesAttentionWrittenOutWithMoreQueriesThanTokens) {
  // the U-Net's case: many image positions read a short prompt; values wider than keys
  const std::int64_t B = 2, N = 9, L = 4, d = 2, e = 6;
  auto q = fixed_normal({B, N, d}, 6127) * 2, k = fixed_normal({B, L, d}, 6128), v = fixed_normal({B, L, e}, 6129);
  expect_written_out(shapes(B, N, L, d, e), q, k, v, prefix_mask({2, 4}, L));
}

TEST(CrossAttention, WeightsAreADistributionOverTheRealTokens) {
  const std::int64_t B = 3, N = 4, L = 6, d = 5, e = 2;
  auto q = fixed_normal({B, N, d}, 6130) * 2, k = fixed_normal({B, L, d}, 6131), v = fixed_normal({B, L, e}, 6132);
  const std::vector<std::int64_t> lengths{1, 4, 6};
  auto mask = prefix_mask(lengths, L);
  const auto got = cross_attention(q, k, v, mask);
  ASSERT_EQ(got.weights.sizes(), torch::IntArrayRef({B, N, L})) << "weights are [B, N, L]";
  const auto w = got.weights.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  const auto wa = w.accessor<double, 3>();
  std::string broken;
  for (std::int64_t b = 0; b < B && broken.empty(); ++b)
    for (std::int64_t n = 0; n < N && broken.empty(); ++n) {
      double sum = 0;
      for (std::int64_t l = 0; l < L; ++l) {
        const double x = wa[b][n][l];
        const auto at = "(b, n, l) = (" + std::to_string(b) + ", " + std::to_string(n) + ", " + std::to_string(l) + ")";
        if (!(x >= 0)) broken = "the weight at " + at + " is " + std::to_string(x) + ", not a non-negative number";
        if (l >= lengths[b] && x != 0)
          broken = "padding token " + at + " gets weight " + std::to_string(x) + ", not exactly 0";
        if (!broken.empty()) break;
        if (l < lengths[b]) sum += x;
      }
      if (broken.empty() && !(std::abs(sum - 1) <= 1e-5))
        broken = "the real tokens' weights of query " + std::to_string(n) + " in row " + std::to_string(b) +
                 " sum to " + std::to_string(sum) + ", not 1";
    }
  if (!broken.empty()) t6::name_mistake(attention_mistake(q, k, v, mask, got));
  EXPECT_TRUE(broken.empty()) << broken;
}

TEST(CrossAttention, PaddingKeysAndValuesChangeNothing) {
  const std::int64_t B = 3, N = 4, L = 6, d = 4, e = 3;
  auto q = fixed_normal({B, N, d}, 6133), k = fixed_normal({B, L, d}, 6134), v = fixed_normal({B, L, e}, 6135);
  auto mask = prefix_mask({2, 5, 3}, L);
  const auto pad = (~mask).unsqueeze(2);
  // the padding's keys and values made huge: keys that would win every softmax, values that would swamp any mix
  auto k_huge = torch::where(pad, fixed_normal({B, L, d}, 6136) * 1e4, k);
  auto v_huge = torch::where(pad, fixed_normal({B, L, e}, 6137) * 1e4, v);
  const auto clean = cross_attention(q, k, v, mask);
  const auto huge = cross_attention(q, k_huge, v_huge, mask);
  const bool same = tensors_close("", huge.output, clean.output, 1e-5, 1e-5) &&
                    tensors_close("", huge.weights, clean.weights, 1e-6, 1e-5);
  if (!same) t6::name_mistake(attention_mistake(q, k_huge, v_huge, mask, huge));
  EXPECT_TRUE(tensors_close("the output with huge padding keys and values, against that with the original ones",
                            huge.output, clean.output, 1e-5, 1e-5))
      << "padding must take no part in the result, whatever its keys and values hold";
  EXPECT_TRUE(tensors_close("the weights with huge padding keys, against those with the original ones", huge.weights,
                            clean.weights, 1e-6, 1e-5));
}

TEST(CrossAttention, PermutingTheTokensPermutesTheWeightsAndKeepsTheOutput) {
  const std::int64_t B = 2, N = 3, L = 6, d = 4, e = 5;
  auto q = fixed_normal({B, N, d}, 6138), k = fixed_normal({B, L, d}, 6139), v = fixed_normal({B, L, e}, 6140);
  auto mask = prefix_mask({4, 6}, L);
  // keys, values and mask moved together; the padding ends up between the real tokens
  const auto perm = torch::tensor({3, 5, 0, 4, 1, 2}, torch::kLong);
  const auto a = cross_attention(q, k, v, mask);
  const auto b = cross_attention(q, k.index_select(1, perm), v.index_select(1, perm), mask.index_select(1, perm));
  const bool ok = tensors_close("", b.output, a.output, 1e-5, 1e-5) &&
                  tensors_close("", b.weights, a.weights.index_select(2, perm), 1e-6, 1e-5);
  if (!ok) t6::name_mistake(attention_mistake(q, k, v, mask, a));
  EXPECT_TRUE(
      tensors_close("the output with the tokens permuted, against the original", b.output, a.output, 1e-5, 1e-5))
      << "attention has no notion of a token's place: permuting keys with their values changes no query's mix";
  EXPECT_TRUE(tensors_close("the weights with the tokens permuted, against the original ones permuted", b.weights,
                            a.weights.index_select(2, perm), 1e-6, 1e-5));
}

TEST(CrossAttention, IdenticalKeysShareTheWeightEqually) {
  const std::int64_t B = 2, N = 3, L = 6, d = 4, e = 3;
  const std::vector<std::int64_t> lengths{4, 6};
  auto mask = prefix_mask(lengths, L);
  auto q = fixed_normal({B, N, d}, 6141) * 2, v = fixed_normal({B, L, e}, 6142);
  // every real key of a row is the same vector; the padding's keys differ (and would win if they counted)
  auto same = fixed_normal({B, 1, d}, 6143).expand({B, L, d});
  auto k = torch::where(mask.unsqueeze(2), same, fixed_normal({B, L, d}, 6144) * 3).contiguous();
  const auto got = cross_attention(q, k, v, mask);
  auto want_w = (mask.to(torch::kFloat64) / torch::tensor(lengths, torch::kLong).to(torch::kFloat64).unsqueeze(1))
                    .unsqueeze(1)
                    .expand({B, N, L});
  const auto want_out = loop_mix(want_w, v);
  const bool ok = got.weights.defined() && got.weights.sizes() == want_w.sizes() && agrees(got.weights, want_w) &&
                  agrees(got.output, want_out);
  if (!ok) t6::name_mistake(attention_mistake(q, k, v, mask, got));
  EXPECT_TRUE(tensors_close("weights for a row of identical real keys: 1 / (number of real tokens)", got.weights,
                            want_w, 1e-6, 1e-5));
  EXPECT_TRUE(tensors_close("the output for identical keys: the mean of the real tokens' values", got.output, want_out,
                            1e-5, 1e-5));
}

TEST(CrossAttention, TheLogRatioOfTwoWeightsIsTheScoreGapOverSqrtD) {
  // one query q = (1, ..., 1), two real tokens with keys a (1, ..., 1) and 0, and a padded third: the score gap
  // q.k0 - q.k1 is a d before the temperature, so log(w0 / w1) must be a d / sqrt(d) = a sqrt(d)
  const double a = 0.25;
  const std::int64_t e = 3;
  for (std::int64_t d : {4, 16, 36, 1}) {
    auto q = torch::ones({1, 1, d});
    auto k = torch::zeros({1, 3, d});
    k.select(1, 0).fill_(a);
    k.select(1, 2).fill_(5.0);
    auto v = fixed_normal({1, 3, e}, 6145);
    auto mask = prefix_mask({2}, 3);
    const auto got = cross_attention(q, k, v, mask);
    ASSERT_EQ(got.weights.sizes(), torch::IntArrayRef({1, 1, 3})) << "weights are [B, N, L]";
    const double w0 = got.weights[0][0][0].item<double>(), w1 = got.weights[0][0][1].item<double>();
    const double gap = std::log(w0) - std::log(w1), want = a * std::sqrt(double(d));
    const auto near = [&](double x) { return std::abs(gap - x) <= 1e-3 * std::max(1.0, std::abs(x)); };
    const auto at = " (d = " + std::to_string(d) + ", e = " + std::to_string(e) + ")";
    if (!near(want)) {
      if (near(a * d))
        t6::name_mistake(kNoScale, at);
      else if (near(a))
        t6::name_mistake(kScaleD, at);
      else if (near(a * d / std::sqrt(double(e))))
        t6::name_mistake(kScaleE, at);
      else if (near(a * d * std::sqrt(double(d))))
        t6::name_mistake(kScaleTimes, at);
    }
    EXPECT_TRUE(near(want)) << "log(w0 / w1) = " << gap << ", expected " << want << at << ": the score gap " << a * d
                            << " at the temperature that keeps the scores' variance "
                            << "near 1 whatever d is";
  }
}

TEST(CrossAttention, EachRowOfTheBatchGivesWhatItGivesAlone) {
  const std::int64_t B = 3, N = 4, L = 5, d = 3, e = 2;
  auto q = fixed_normal({B, N, d}, 6146), k = fixed_normal({B, L, d}, 6147), v = fixed_normal({B, L, e}, 6148);
  auto mask = prefix_mask({2, 5, 3}, L);
  const auto all = cross_attention(q, k, v, mask);
  bool ok = true;
  for (std::int64_t b = 0; b < B; ++b) {
    const auto one = cross_attention(q.narrow(0, b, 1), k.narrow(0, b, 1), v.narrow(0, b, 1), mask.narrow(0, b, 1));
    ok = tensors_close("row " + std::to_string(b) + " in the batch against alone, output", all.output.narrow(0, b, 1),
                       one.output, 1e-5, 1e-5) &&
         ok;
    EXPECT_TRUE(tensors_close("row " + std::to_string(b) + " in the batch against alone, output",
                              all.output.narrow(0, b, 1), one.output, 1e-5, 1e-5))
        << "the rows of a batch are separate prompts, each with its own mask";
    EXPECT_TRUE(tensors_close("row " + std::to_string(b) + " in the batch against alone, weights",
                              all.weights.narrow(0, b, 1), one.weights, 1e-6, 1e-5));
  }
  if (!ok) t6::name_mistake(attention_mistake(q, k, v, mask, all));
}

TEST(CrossAttention, TheOutputIsTheMixOfTheValuesByTheReturnedWeights) {
  const std::int64_t B = 2, L = 5, d = 4, e = 3;  // N = L, so that even a transposed product has a shape
  auto q = fixed_normal({B, L, d}, 6149), k = fixed_normal({B, L, d}, 6150), v = fixed_normal({B, L, e}, 6151);
  auto mask = prefix_mask({3, 5}, L);
  const auto got = cross_attention(q, k, v, mask);
  ASSERT_EQ(got.weights.sizes(), torch::IntArrayRef({B, L, L})) << "weights are [B, N, L]";
  const auto want = loop_mix(got.weights, v);
  if (!agrees(got.output, want)) t6::name_mistake(attention_mistake(q, k, v, mask, got));
  EXPECT_TRUE(tensors_close("the output against sum_l weights[b, n, l] v[b, l, :] of the weights returned", got.output,
                            want, 1e-5, 1e-5));
}

TEST(CrossAttention, MatchesAttentionWrittenOutAtTheGradersSeed) {
  // whatever the seed: two rows or more, the first with padding and the second without, and e != d, so that
  // every slip of the mask or of the temperature shows at every seed
  const auto B = seeded_steps(1, 2, 4, 61201)[0].item<std::int64_t>();
  const auto N = seeded_steps(1, 2, 9, 61202)[0].item<std::int64_t>();
  const auto L = seeded_steps(1, 2, 8, 61203)[0].item<std::int64_t>();
  const auto d = seeded_steps(1, 2, 16, 61204)[0].item<std::int64_t>();
  const auto e_drawn = seeded_steps(1, 1, 8, 61205)[0].item<std::int64_t>();
  const auto e = e_drawn == d ? d + 1 : e_drawn;
  auto lengths = seeded_steps(B, 1, L, 61206);
  std::vector<std::int64_t> len(lengths.data_ptr<std::int64_t>(), lengths.data_ptr<std::int64_t>() + B);
  len[0] = seeded_steps(1, 1, L - 1, 61210)[0].item<std::int64_t>();
  len[1] = L;
  auto q = seeded_normal({B, N, d}, 61207) * 1.5, k = seeded_normal({B, L, d}, 61208);
  auto v = seeded_normal({B, L, e}, 61209);
  expect_written_out(shapes(B, N, L, d, e), q, k, v, prefix_mask(len, L), seed_note());
}

// The argument checks stand outside the exercise's block (ungraded).
TEST(CrossAttentionContract, RefusesShapesThatDoNotFit) {
  auto q = torch::zeros({2, 3, 4}), k = torch::zeros({2, 5, 4}), v = torch::zeros({2, 5, 6});
  auto mask = torch::ones({2, 5}, torch::kBool);
  EXPECT_THROW(cross_attention(q.view({6, 4}), k, v, mask), std::invalid_argument);
  EXPECT_THROW(cross_attention(q, torch::zeros({2, 5, 3}), v, mask), std::invalid_argument);  // d of k != d of q
  EXPECT_THROW(cross_attention(q, k, torch::zeros({2, 4, 6}), mask), std::invalid_argument);  // L of v != L of k
  EXPECT_THROW(cross_attention(q, torch::zeros({1, 5, 4}), v, mask), std::invalid_argument);  // B differs
  EXPECT_THROW(cross_attention(q, k, v, torch::ones({2, 4}, torch::kBool)), std::invalid_argument);
  EXPECT_THROW(cross_attention(q, k, v, torch::ones({2, 5})), std::invalid_argument);  // not bool
}

TEST(CrossAttentionContract, RefusesARowWithNoRealToken) {
  auto q = torch::zeros({2, 3, 4}), k = torch::zeros({2, 5, 4}), v = torch::zeros({2, 5, 6});
  EXPECT_THROW(cross_attention(q, k, v, prefix_mask({2, 0}, 5)), std::invalid_argument);
  EXPECT_THROW(cross_attention(torch::zeros({1, 3, 4}), torch::zeros({1, 0, 4}), torch::zeros({1, 0, 6}),
                               torch::ones({1, 0}, torch::kBool)),
               std::invalid_argument);
}
