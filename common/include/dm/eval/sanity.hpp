// The evaluation's sanity table, computed by code: what FID, KID, precision, recall and the
// classifier's confidence say about real Fashion-MNIST images and about known damage to them. Chapter
// 03's program prints it (`03_ddpm --eval-sanity`) and lesson 03 captures that output.
//
//   dm::eval::Evaluator evaluator(eo);
//   const auto train = dm::load_fashion_mnist(flags.data_dir, dm::Split::Train);
//   const auto table = dm::eval::sanity_table(evaluator, train);
//   fmt::print("{}", table.text());
//
// Two tables:
//   floors  the real-vs-real floor (FID and KID of n training images against the test set) for each
//           n of SanityOptions::floor_sizes, with intervals: how the floor falls with n
//   rows    at n = SanityOptions::n, the whole EvalReport of: real training images, the same kind of
//           images with Gaussian pixel noise, with a 3x3 box blur, trousers only (one class), and
//           uniform noise images. Each row has its own seeded images, none of them in any floor
//           subset; every value with n and a 95 % bootstrap interval.
// and one paired difference: the real row's images blurred against themselves (same rows resampled).
// Then the check of the intervals against the spread over seeds: the FIDs of SanityOptions::sets further
// disjoint sets of n training images, plain and blurred, next to the bootstrap interval of the row of
// the same kind.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dm/data/fashion_mnist.hpp"
#include "dm/eval/evaluator.hpp"

namespace dm::eval {

struct SanityOptions {
  std::vector<std::int64_t> floor_sizes = {500, 1000, 2000, 5000, 10000};  // n of each floor row
  std::int64_t n = 1000;                                                   // images per damage row
  double noise_sd = 0.3;       // Gaussian pixel noise, images in [-1, 1] (clamped back to [-1, 1])
  std::uint64_t seed = 3;      // which training images each row gets, and every noise draw
  std::int64_t one_class = 1;  // the class of the "one class only" row (1: Trouser)
  int sets = 20;               // disjoint sets of n images for the spread over seeds (0: none)
};

// FIDs of several disjoint sets of n images made the same way: the metric's spread over seeds.
struct SeedSpread {
  std::string name;
  int sets = 0;
  std::int64_t n = 0;
  double mean = 0, sd = 0, min = 0, max = 0;
  Interval bootstrap;  // the bootstrap interval of the table's row of the same kind, for comparison
};

struct SanityRow {
  std::string name;  // what was done to the images
  EvalReport report;
};

struct SanityTable {
  std::vector<RealFloor> floors;
  std::vector<SanityRow> rows;
  std::int64_t n = 0;               // images per row
  Estimate blur_difference;         // FID(real row's images blurred) - FID(the same images), paired
  std::vector<SeedSpread> spreads;  // real and blurred training images
  int resamples = 0;
  double classifier_accuracy = 0;
  double seconds = 0;  // wall time of sanity_table

  // The tables as aligned text, n on every row and each interval in brackets.
  std::string text() const;
  // {"floors": [{"n", "fid", "fid_ci", "kid", "kid_ci"}, ...], "rows": [{"name", ...EvalReport}, ...],
  //  "blur_difference": {"fid", "fid_ci"}, "spreads": [{"name", "sets", "n", "mean", "sd", "min", "max",
  //  "bootstrap"}], "resamples", "classifier_accuracy", "wall_s"}
  nlohmann::json to_json() const;
};

// Measures both tables with `evaluator`. train: the Fashion-MNIST training split (images and labels),
// or its first images (tests).
// dm::UserError when the rows and sets need more images than the split has outside the floor subsets.
SanityTable sanity_table(const Evaluator& evaluator, const ImageDataset& train, const SanityOptions& options = {});

}  // namespace dm::eval
