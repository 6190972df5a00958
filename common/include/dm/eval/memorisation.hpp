// Does a model reproduce its training images? For every sample, the distance to its nearest training
// image in the classifier's feature space (dm/eval/evaluator.hpp), set against the same distance for
// held-out test images, which no model has seen: a model that memorises puts its samples much closer
// to the training set than real unseen images are. FID cannot tell: a copy of the training set scores
// at the floor (lesson 03, "Limits").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>
#include <nlohmann/json.hpp>

#include "dm/eval/evaluator.hpp"

namespace dm::eval {

struct Memorisation {
  std::int64_t n = 0;                   // samples, and as many held-out test images
  std::vector<double> sample_distance;  // [n] each sample's distance to its nearest training image
  std::vector<double> test_distance;    // [n] the same for the test images
  std::vector<std::int64_t> nearest;    // [n] the index of each sample's nearest training image
  double sample_median = 0, test_median = 0;
  double test_p01 = 0;              // the 1st percentile of test_distance
  double closer_than_test_p01 = 0;  // fraction of samples nearer than test_p01 (about 0.01 when nothing is copied)

  std::string summary() const;     // one line with n, both medians and the fraction
  nlohmann::json to_json() const;  // the numbers above, without the per-image vectors
};

// samples [n, 1, 28, 28] in [-1, 1]; train_images [N, 1, 28, 28] (all of the training set); the test
// images are the first n of the test set. Distances are Euclidean between 128-d feature vectors.
Memorisation memorisation_check(const Evaluator& evaluator, const torch::Tensor& samples,
                                const torch::Tensor& train_images, const torch::Tensor& test_images);

}  // namespace dm::eval
