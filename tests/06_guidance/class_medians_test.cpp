// Exercise 06.13: each class's median of a measured attribute, where the captions' attribute words split.
// The truth is written out here: each class's values gathered by a loop, sorted, and the lower of the middle
// ones taken (index (n - 1) / 2 of n). Checks it on classes of odd and even counts, by hand on small cases,
// and at the grader's seed; and the properties that need no reference: the median is one of the class's own
// values, with at most (n - 1) / 2 of them below it and at least (n + 1) / 2 at or below it (ties included);
// with distinct values, exactly floor(n / 2) of each class lie above it (the captions' second word); one class
// alone, one image per class; the values' dtype kept.
// Names the slips: the median (or the mean) of all the images, the mean of each class, the upper middle value
// or the mean of the two middle values for an even count, the other classes' images counted as zeros.
// Run one test: build/default/bin/test_06_exercises --gtest_filter='ClassMedians.*'
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "06_guidance/text.hpp"
#include "ch06_reference.hpp"
#include "testing.hpp"

using namespace dm::ch06;
namespace t6 = dm::ch06::test;
using dm::testing::fixed_uniform;
using dm::testing::seed_note;
using dm::testing::seeded_normal;
using dm::testing::seeded_steps;
using dm::testing::tensors_close;

namespace {

const char* kAllImages = "the median of all the images, not of each class's own";
const char* kAllMean = "the mean of all the images, not each class's own median";
const char* kMean = "the mean of each class's values, not their median";
const char* kUpper = "for an even count, the upper of the two middle values, not the lower";
const char* kMiddleMean = "for an even count, the mean of the two middle values, which is not one of the class's own";
const char* kZerosCounted = "the other classes' images were counted as zeros in each class's median";

using Groups = std::vector<std::vector<double>>;

// Each class's values, by a loop over the images.
Groups groups(const torch::Tensor& values, const torch::Tensor& labels, std::int64_t K) {
  const auto v = values.to(torch::kCPU, torch::kFloat64).contiguous();
  const auto y = labels.to(torch::kCPU, torch::kLong).contiguous();
  Groups g(static_cast<std::size_t>(K));
  for (std::int64_t i = 0; i < v.size(0); ++i)
    g[static_cast<std::size_t>(y.data_ptr<std::int64_t>()[i])].push_back(v.data_ptr<double>()[i]);
  return g;
}

std::vector<double> sorted(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs;
}
double lower_middle(const std::vector<double>& xs) { return sorted(xs)[(xs.size() - 1) / 2]; }
double upper_middle(const std::vector<double>& xs) { return sorted(xs)[xs.size() / 2]; }
double mean(const std::vector<double>& xs) { return std::accumulate(xs.begin(), xs.end(), 0.0) / double(xs.size()); }

torch::Tensor per_class(const Groups& g, double (*f)(const std::vector<double>&)) {
  std::vector<double> out;
  for (const auto& xs : g) out.push_back(f(xs));
  return torch::tensor(out, torch::kFloat64);
}

torch::Tensor written_out(const torch::Tensor& values, const torch::Tensor& labels, std::int64_t K) {
  return per_class(groups(values, labels, K), lower_middle);
}

// The named slip `got` matches, or "".
std::string medians_mistake(const torch::Tensor& values, const torch::Tensor& labels, std::int64_t K,
                            const torch::Tensor& got) {
  const auto g = groups(values, labels, K);
  std::vector<double> all;
  for (const auto& xs : g) all.insert(all.end(), xs.begin(), xs.end());
  Groups padded;  // each class's values and a zero for every other class's image
  for (const auto& xs : g) {
    auto p = xs;
    p.resize(all.size(), 0.0);
    padded.push_back(p);
  }
  // where no class has more than half the images this slip gives 0 everywhere: a zero answer, not evidence
  auto zeros_counted = per_class(padded, lower_middle);
  if (zeros_counted.eq(0).all().item<bool>()) zeros_counted = torch::empty({0}, torch::kFloat64);  // never matches
  const auto mid_mean = [](const std::vector<double>& xs) { return 0.5 * (lower_middle(xs) + upper_middle(xs)); };
  std::vector<double> mm;
  for (const auto& xs : g) mm.push_back(mid_mean(xs));
  return t6::diagnose(got, per_class(g, lower_middle),
                      {{kAllImages, torch::full({K}, lower_middle(all), torch::kFloat64)},
                       {kAllMean, torch::full({K}, mean(all), torch::kFloat64)},
                       {kMean, per_class(g, mean)},
                       {kUpper, per_class(g, upper_middle)},
                       {kMiddleMean, torch::tensor(mm, torch::kFloat64)},
                       {kZerosCounted, zeros_counted}},
                      1e-6, 1e-7);
}

// Calls the exercise, names the slip its answer matches, and compares it with the sorted middle.
void expect_written_out(const std::string& what, const torch::Tensor& values, const torch::Tensor& labels,
                        std::int64_t K, const std::string& note = "") {
  const auto got = class_medians(values, labels, K);
  t6::name_mistake(medians_mistake(values, labels, K, got), note);
  ASSERT_TRUE(got.defined()) << what << note;
  EXPECT_TRUE(tensors_close(what, got, written_out(values, labels, K), 1e-7, 1e-6)) << note;
}

// Labels with `counts[c]` images of class c, in an order shuffled by a fixed draw.
torch::Tensor shuffled_labels(const std::vector<std::int64_t>& counts, std::uint64_t seed) {
  std::vector<std::int64_t> y;
  for (std::size_t c = 0; c < counts.size(); ++c) y.insert(y.end(), counts[c], static_cast<std::int64_t>(c));
  const auto n = static_cast<std::int64_t>(y.size());
  return torch::tensor(y, torch::kLong).index_select(0, fixed_uniform({n}, seed, 0.0, 1.0).argsort());
}

}  // namespace

TEST(ClassMedians, MatchesTheSortedMiddle) {
  // odd and even counts, a class of one image, and one of more than half the images
  const std::vector<std::int64_t> counts{13, 6, 1, 4};
  const auto y = shuffled_labels(counts, 6131);
  const auto x = fixed_uniform({24}, 6132, 0.0, 1.0) + 0.7 * y.to(torch::kFloat32);  // classes apart, overlapping
  expect_written_out("the medians of 4 classes of 13, 6, 1 and 4 images", x, y, 4);
}

TEST(ClassMedians, TakesTheLowerMiddleOfAnEvenCount) {
  // class 0: 3 1 4 2 -> 2; class 1: 10 -> 10; class 2: 5 7 -> 5; class 3: 9 8 7 -> 8
  const auto x = torch::tensor({3.0f, 10.0f, 1.0f, 9.0f, 5.0f, 4.0f, 8.0f, 7.0f, 2.0f, 7.0f}, torch::kFloat32);
  const auto y = torch::tensor(std::vector<std::int64_t>{0, 1, 0, 3, 2, 0, 3, 2, 0, 3}, torch::kLong);
  const auto got = class_medians(x, y, 4);
  const auto want = torch::tensor({2.0, 10.0, 5.0, 8.0}, torch::kFloat64);
  t6::name_mistake(medians_mistake(x, y, 4, got));
  EXPECT_TRUE(tensors_close("the medians of {3, 1, 4, 2}, {10}, {5, 7}, {9, 8, 7}", got, want, 0, 0))
      << "for an even count the lower of the two middle values, so that the median is one of the class's own";
}

TEST(ClassMedians, IsOneOfTheClassesOwnValuesWithHalfAtOrBelowIt) {
  const std::int64_t K = 3;
  const auto y = shuffled_labels({13, 16, 11}, 6133);
  const auto x = (fixed_uniform({40}, 6134, 0.0, 4.0).round() / 4) + 0.37 * y.to(torch::kFloat32);  // many ties
  const auto got = class_medians(x, y, K);
  ASSERT_EQ(got.sizes(), torch::IntArrayRef({K})) << "one median per class";
  const auto g = groups(x, y, K);
  std::string broken;
  for (std::int64_t c = 0; c < K && broken.empty(); ++c) {
    const double m = got[c].item<double>();
    const auto& xs = g[static_cast<std::size_t>(c)];
    const auto n = static_cast<std::int64_t>(xs.size());
    const auto below = std::count_if(xs.begin(), xs.end(), [&](double v) { return v < m; });
    const auto at_or_below = std::count_if(xs.begin(), xs.end(), [&](double v) { return v <= m; });
    const auto cls = "class " + std::to_string(c) + " (" + std::to_string(n) + " images): " + std::to_string(m);
    if (std::find(xs.begin(), xs.end(), m) == xs.end())
      broken = cls + " is not one of the class's own values";
    else if (below > (n - 1) / 2)
      broken = cls + " has " + std::to_string(below) + " of the class's values below it, more than (n - 1) / 2";
    else if (at_or_below < (n + 1) / 2)
      broken = cls + " has only " + std::to_string(at_or_below) +
               " of the class's values at or below it, fewer than (n + 1) / 2";
  }
  if (!broken.empty()) t6::name_mistake(medians_mistake(x, y, K, got));
  EXPECT_TRUE(broken.empty()) << broken;
}

TEST(ClassMedians, SplitsEveryClassIntoHalves) {
  // the captions' use: with distinct values, floor(n / 2) of each class lie above its median (the second word),
  // however far apart the classes are (a dark class and a light one each get both words)
  const std::int64_t K = 3;
  const std::vector<std::int64_t> counts{7, 10, 4};
  const auto y = shuffled_labels(counts, 6135);
  const auto x = fixed_uniform({21}, 6136, 0.0, 1.0) + 3.0 * y.to(torch::kFloat32);
  const auto got = class_medians(x, y, K);
  ASSERT_EQ(got.sizes(), torch::IntArrayRef({K})) << "one median per class";
  std::string broken;
  for (std::int64_t c = 0; c < K && broken.empty(); ++c) {
    const auto above = ((y == c) & (x > got[c])).sum().item<std::int64_t>();
    const auto n = counts[static_cast<std::size_t>(c)];
    if (above != n / 2)
      broken = "class " + std::to_string(c) + ": " + std::to_string(above) + " of its " + std::to_string(n) +
               " images are above its median, not floor(n / 2) = " + std::to_string(n / 2);
  }
  if (!broken.empty()) t6::name_mistake(medians_mistake(x, y, K, got));
  EXPECT_TRUE(broken.empty()) << broken;
}

TEST(ClassMedians, HandlesOneClassAndOneImagePerClass) {
  const auto x1 = torch::tensor({2.5f, -1.0f, 0.4f, 0.1f, 0.9f, 0.3f}, torch::kFloat32);
  const auto y1 = torch::zeros({6}, torch::kLong);
  expect_written_out("one class of 6 images", x1, y1, 1);
  const auto x5 = torch::tensor({0.5f, -0.25f, 3.0f, 1.5f, -2.0f}, torch::kFloat32);
  const auto y5 = torch::tensor(std::vector<std::int64_t>{3, 0, 4, 1, 2}, torch::kLong);
  const auto got = class_medians(x5, y5, 5);
  t6::name_mistake(medians_mistake(x5, y5, 5, got));
  EXPECT_TRUE(tensors_close("5 classes of one image each: each median is its image's value", got,
                            torch::tensor({-0.25, 1.5, -2.0, 0.5, 3.0}, torch::kFloat64), 0, 0));
}

TEST(ClassMedians, KeepsTheValuesDtype) {
  // float64 values 1e-12 apart: a float32 detour would merge them
  const auto y = shuffled_labels({4, 5}, 6137);
  const auto x = 1.0 + 1e-12 * torch::arange(9, torch::kFloat64).flip(0);
  const auto got = class_medians(x, y, 2);
  EXPECT_EQ(got.scalar_type(), torch::kFloat64) << "the medians come in the values' dtype";
  t6::name_mistake(medians_mistake(x, y, 2, got));
  EXPECT_TRUE(tensors_close("float64 medians", got, written_out(x, y, 2), 0, 0));
}

TEST(ClassMedians, MatchesTheSortedMiddleAtTheGradersSeed) {
  const auto K = seeded_steps(1, 1, 12, 61301)[0].item<std::int64_t>();
  const auto extra = seeded_steps(1, 0, 60, 61302)[0].item<std::int64_t>();
  // every class at least once, the rest drawn
  const auto y = torch::cat({torch::arange(K, torch::kLong), seeded_steps(extra, 0, K - 1, 61303)});
  const auto x = seeded_normal({K + extra}, 61304) + 2 * seeded_normal({K}, 61305).index_select(0, y);
  expect_written_out("the medians of " + std::to_string(K) + " classes of " + std::to_string(K + extra) + " images", x,
                     y, K, seed_note());
}

// The argument checks stand outside the exercise's block (ungraded).
TEST(ClassMediansContract, RefusesAClassWithoutImagesAndLabelsOutOfRange) {
  const auto x = torch::tensor({1.0f, 2.0f, 3.0f});
  EXPECT_THROW(class_medians(x, torch::tensor(std::vector<std::int64_t>{0, 0, 2}), 3), std::invalid_argument);
  EXPECT_THROW(class_medians(x, torch::tensor(std::vector<std::int64_t>{0, -1, 1}), 2), std::invalid_argument);
  EXPECT_THROW(class_medians(x, torch::tensor(std::vector<std::int64_t>{0, 2, 1}), 2), std::invalid_argument);
  EXPECT_THROW(class_medians(x, torch::tensor(std::vector<std::int64_t>{0, 0, 0}), 0), std::invalid_argument);
  EXPECT_THROW(class_medians(torch::zeros({0}), torch::zeros({0}, torch::kLong), 1), std::invalid_argument);
}

TEST(ClassMediansContract, RefusesShapesThatDoNotFit) {
  const auto y = torch::tensor(std::vector<std::int64_t>{0, 1, 0});
  EXPECT_THROW(class_medians(torch::zeros({3, 1}), y, 2), std::invalid_argument);
  EXPECT_THROW(class_medians(torch::zeros({4}), y, 2), std::invalid_argument);
  EXPECT_THROW(class_medians(torch::zeros({3}), y.to(torch::kInt), 2), std::invalid_argument);
}
