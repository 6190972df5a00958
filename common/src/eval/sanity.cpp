// The evaluation's sanity table: the metrics on real, damaged and fake-by-construction images.
#include "dm/eval/sanity.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/types.h>

#include "dm/errors.hpp"

namespace dm::eval {

namespace {

// A seeded permutation of [0, n) (our own Fisher-Yates: the same on every platform).
std::vector<std::int64_t> seeded_permutation(std::int64_t n, std::uint64_t seed) {
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), std::int64_t{0});
  std::mt19937_64 rng(seed);
  for (std::int64_t i = 0; i + 1 < n; ++i) {
    const auto j = i + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n - i));
    std::swap(idx[static_cast<std::size_t>(i)], idx[static_cast<std::size_t>(j)]);
  }
  return idx;
}

torch::Tensor take(const torch::Tensor& images, const std::vector<std::int64_t>& rows) {
  auto idx = torch::tensor(rows, torch::kLong);
  return images.index_select(0, idx);
}

// 3x3 mean filter; at the border the mean of the pixels inside the image.
torch::Tensor box_blur(const torch::Tensor& images) {
  return at::avg_pool2d(images, {3, 3}, /*stride=*/{1, 1}, /*padding=*/{1, 1}, /*ceil_mode=*/false,
                        /*count_include_pad=*/false);
}

std::string with_ci(double v, const Interval& ci, int digits) {
  return fmt::format("{:.{}f} [{:.{}f}, {:.{}f}]", v, digits, ci.lo, digits, ci.hi, digits);
}

nlohmann::json json_ci(const Interval& ci) { return nlohmann::json::array({ci.lo, ci.hi}); }

}  // namespace

SanityTable sanity_table(const Evaluator& evaluator, const ImageDataset& train, const SanityOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto total = train.images.size(0);
  if (o.n < 10) throw UserError(fmt::format("the sanity table needs at least 10 images per row, got {}", o.n));
  if (o.floor_sizes.empty()) throw UserError("the sanity table needs at least one floor size");
  const auto largest = *std::max_element(o.floor_sizes.begin(), o.floor_sizes.end());

  SanityTable t;
  t.n = o.n;
  t.resamples = evaluator.resamples();
  t.classifier_accuracy = evaluator.classifier_accuracy();
  for (const auto n : o.floor_sizes) t.floors.push_back(evaluator.real_floor(n));

  // The rows' images: a seeded permutation of the training set without the rows of any floor subset
  // (the subsets are nested, so the largest holds them all), cut into disjoint pieces.
  std::vector<char> in_floor(static_cast<std::size_t>(total), 0);
  for (const auto i : evaluator.floor_rows(largest)) {
    if (i < total) in_floor[static_cast<std::size_t>(i)] = 1;  // `train` may be the first `total` images only
  }
  std::vector<std::int64_t> pool;
  for (const auto i : seeded_permutation(total, o.seed)) {
    if (!in_floor[static_cast<std::size_t>(i)]) pool.push_back(i);
  }
  // Pieces of n images: 0, 1, 2 the real, noisy and blurred rows, 3 .. 3 + sets - 1 the spread over
  // seeds (plain, and blurred); the one class's first n images after them (taken before, they would
  // leave the sets without that class).
  const std::int64_t sets = std::max(o.sets, 0);
  const std::int64_t pieces = 3 + sets;
  if (static_cast<std::int64_t>(pool.size()) < (pieces + 1) * o.n) {
    throw UserError(fmt::format("the sanity table needs {} x {} training images outside the floor subsets, has {}",
                                pieces + 1, o.n, pool.size()));
  }
  auto piece = [&](std::int64_t k) {
    return std::vector<std::int64_t>(pool.begin() + k * o.n, pool.begin() + (k + 1) * o.n);
  };
  const auto labels = train.labels.to(torch::kLong).contiguous();
  const auto* label = labels.data_ptr<std::int64_t>();
  std::vector<std::int64_t> one_class;
  for (auto it = pool.begin() + pieces * o.n; it != pool.end() && static_cast<std::int64_t>(one_class.size()) < o.n;
       ++it) {
    if (label[*it] == o.one_class) one_class.push_back(*it);
  }
  if (static_cast<std::int64_t>(one_class.size()) < o.n) {
    throw UserError(fmt::format("the sanity table needs {} images of class {} outside the other rows, found {}", o.n,
                                o.one_class, one_class.size()));
  }

  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  const auto real = take(train.images, piece(0));
  const auto noisy = (take(train.images, piece(1)) + o.noise_sd * torch::randn(real.sizes(), gen)).clamp(-1.0, 1.0);
  const auto blurred = box_blur(take(train.images, piece(2)));
  const auto uniform = torch::rand(real.sizes(), gen) * 2.0 - 1.0;
  const std::string class_name =
      o.one_class >= 0 && o.one_class < 10 ? kFashionMnistClasses[static_cast<std::size_t>(o.one_class)] : "?";

  t.rows.push_back({"real training images", evaluator.evaluate(real)});
  t.rows.push_back({fmt::format("Gaussian noise, sd {:g}", o.noise_sd), evaluator.evaluate(noisy)});
  t.rows.push_back({"3x3 box blur", evaluator.evaluate(blurred)});
  t.rows.push_back({fmt::format("{} only (one class)", class_name), evaluator.evaluate(take(train.images, one_class))});
  t.rows.push_back({"uniform noise in [-1, 1]", evaluator.evaluate(uniform)});
  t.blur_difference = evaluator.fid_difference(box_blur(real), real);
  // The spread over seeds: pieces 3 .. 3 + sets - 1, plain and blurred.
  for (const bool blur : {false, true}) {
    if (sets < 2) break;
    SeedSpread sp;
    sp.name = blur ? "3x3 box blur" : "real training images";
    sp.sets = static_cast<int>(sets);
    sp.n = o.n;
    sp.bootstrap = t.rows[blur ? 2 : 0].report.fid_ci;
    std::vector<double> fids;
    for (std::int64_t k = 0; k < sets; ++k) {
      const auto x = take(train.images, piece(3 + k));
      fids.push_back(evaluator.fid(blur ? box_blur(x) : x));
    }
    for (double v : fids) sp.mean += v / static_cast<double>(sets);
    for (double v : fids) sp.sd += (v - sp.mean) * (v - sp.mean) / static_cast<double>(sets - 1);
    sp.sd = std::sqrt(sp.sd);
    sp.min = *std::min_element(fids.begin(), fids.end());
    sp.max = *std::max_element(fids.begin(), fids.end());
    t.spreads.push_back(sp);
  }
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return t;
}

std::string SanityTable::text() const {
  std::string s;
  s += fmt::format(
      "Sanity check of the evaluation: every [lo, hi] is a 95 % bootstrap interval over the n images ({} resamples);\n"
      "the reference is the 10000 test images; classifier test accuracy {:.2f} %\n\n",
      resamples, 100 * classifier_accuracy);
  s += "Real-vs-real floor: n training images (a fixed seeded subset) against the test set\n";
  s += fmt::format("{:>6}  {:<22}  {}\n", "n", "FID [95 %]", "KID [95 %]");
  for (const auto& f : floors) {
    s += fmt::format("{:>6}  {:<22}  {}\n", f.n, with_ci(f.fid.value, f.fid.ci, 2), with_ci(f.kid.value, f.kid.ci, 4));
  }
  const double floor = rows.empty() ? 0.0 : rows.front().report.fid_floor;
  const Interval floor_ci = rows.empty() ? Interval{} : rows.front().report.fid_floor_ci;
  s += fmt::format(
      "\n{} images per row, each row its own seeded training images (none in a floor subset); floor at "
      "n = {}: FID {}\n",
      n, n, with_ci(floor, floor_ci, 2));
  s += fmt::format("{:<26} {:>5}  {:<24}  {:<26}  {:<17}  {:<17}  {:>10}  {}\n", "images", "n", "FID [95 %]",
                   "KID [95 %]", "precision [95 %]", "recall [95 %]", "confidence", "top class");
  for (const auto& row : rows) {
    const auto& r = row.report;
    const auto top = std::max_element(r.class_histogram.begin(), r.class_histogram.end()) - r.class_histogram.begin();
    s += fmt::format("{:<26} {:>5}  {:<24}  {:<26}  {:<17}  {:<17}  {:>10.2f}  {} {:.0f} %\n", row.name, r.n,
                     with_ci(r.fid, r.fid_ci, 2), with_ci(r.kid, r.kid_ci, 4), with_ci(r.precision, r.precision_ci, 2),
                     with_ci(r.recall, r.recall_ci, 2), r.mean_confidence, kFashionMnistClasses[top],
                     100 * r.max_class_fraction);
  }
  s += fmt::format(
      "\nPaired: the real row's {} images blurred minus the same images unblurred (same resamples of both): "
      "FID difference {} (n = {})\n",
      n, with_ci(blur_difference.value, blur_difference.ci, 2), n);
  if (!spreads.empty()) {
    s += fmt::format(
        "\nSpread over seeds: the FID of {} further disjoint sets of {} images made like the row, against that row's "
        "bootstrap interval\n",
        spreads.front().sets, n);
    s += fmt::format("{:<26} {:>5}  {:>6}  {:>6}  {:<16}  {:<16}  {}\n", "images", "n", "mean", "sd", "min .. max",
                     "mean +- 1.96 sd", "the row's bootstrap interval");
    for (const auto& sp : spreads) {
      s += fmt::format("{:<26} {:>5}  {:>6.2f}  {:>6.2f}  {:<16}  {:<16}  [{:.2f}, {:.2f}]\n", sp.name, sp.n, sp.mean,
                       sp.sd, fmt::format("{:.2f} .. {:.2f}", sp.min, sp.max),
                       fmt::format("[{:.2f}, {:.2f}]", sp.mean - 1.96 * sp.sd, sp.mean + 1.96 * sp.sd), sp.bootstrap.lo,
                       sp.bootstrap.hi);
    }
  }
  s += fmt::format("sanity table wall time = {:.1f} s\n", seconds);
  return s;
}

nlohmann::json SanityTable::to_json() const {
  nlohmann::json f = nlohmann::json::array(), r = nlohmann::json::array();
  for (const auto& x : floors) {
    f.push_back({{"n", x.n},
                 {"fid", x.fid.value},
                 {"fid_ci", json_ci(x.fid.ci)},
                 {"kid", x.kid.value},
                 {"kid_ci", json_ci(x.kid.ci)}});
  }
  for (const auto& x : rows) {
    auto j = x.report.to_json();
    j["name"] = x.name;
    r.push_back(j);
  }
  nlohmann::json sp = nlohmann::json::array();
  for (const auto& x : spreads) {
    sp.push_back({{"name", x.name},
                  {"sets", x.sets},
                  {"n", x.n},
                  {"mean", x.mean},
                  {"sd", x.sd},
                  {"min", x.min},
                  {"max", x.max},
                  {"bootstrap", json_ci(x.bootstrap)}});
  }
  return {{"floors", f},
          {"spreads", sp},
          {"rows", r},
          {"n", n},
          {"blur_difference", {{"fid", blur_difference.value}, {"fid_ci", json_ci(blur_difference.ci)}, {"n", n}}},
          {"resamples", resamples},
          {"classifier_accuracy", classifier_accuracy},
          {"wall_s", seconds}};
}

}  // namespace dm::eval
