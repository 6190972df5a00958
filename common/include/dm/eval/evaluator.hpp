// The course's offline evaluation of generated Fashion-MNIST samples, used from
// chapter 03 on:
//
//   dm::eval::EvalOptions eo;
//   eo.data_dir = flags.data_dir;  eo.device = device;  eo.quick = flags.quick;
//   dm::eval::Evaluator evaluator(eo);           // loads the course's committed classifier
//   dm::eval::EvalReport r = evaluator.evaluate(samples);   // [N, 1, 28, 28] in [-1, 1]
//   std::cout << r.summary() << "\n";      // every metric with n and its 95 % interval
//   metrics["eval"] = r.to_json();
//
// Every FID, KID, precision and recall comes with a 95 % bootstrap interval over the samples
// (dm/eval/metrics.hpp, "intervals"): the samples' rows are drawn again with replacement 200 times
// (100 with quick), the test set stays fixed. The resamples depend only on n (a fixed seed), so two
// sample sets of equal n are resampled alike, and fid_difference() gives a paired interval of a
// difference. At n = 10000 the intervals add about half a minute on one core (mostly the FID's
// 200 covariances and Fréchet distances, for the samples and for the floor).
//
// Everything is computed on the 128-d penultimate features of the course's own
// classifier (dm/eval/classifier.hpp), not Inception: numbers are comparable
// within this course, not with FIDs published on Inception features.
//
// This header is light (torch/types.h only); the classifier module is hidden.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>
#include <Eigen/Dense>
#include <nlohmann/json.hpp>

#include "dm/eval/metrics.hpp"

namespace dm::eval {

struct EvalOptions {
  // The classifier's tensor file; empty: the course's committed one (reference/fmnist_classifier.dmt,
  // dm/eval/classifier.hpp), whose sha256 is checked against reference/fmnist_classifier.json.
  std::filesystem::path classifier;
  std::string classifier_sha256;  // with `classifier` set: its expected sha256 (empty: not checked)
  // Where the test set's features are cached (fmnist_test_features.pt, tied to the classifier's weights).
  std::filesystem::path cache_dir = "runs/cache";
  std::filesystem::path data_dir;      // Fashion-MNIST folder; empty: the Debian location
  torch::Device device = torch::kCPU;  // where the classifier runs (features are returned on the CPU)
  // quick: cheaper estimates for --quick runs: KID on 3 subsets instead of 10,
  // 100 bootstrap resamples instead of 200. The classifier and the reference
  // statistics are the same in both modes, so quick and full FIDs at the same n
  // are comparable.
  bool quick = false;
  // Bootstrap resamples behind every interval; 0: the default, 200 (100 with quick).
  // 200 puts the 2.5 and 97.5 percentiles between the 5th and 6th smallest and largest
  // replicates: their own noise is a small part of the interval's width. >= 10 when set.
  int resamples = 0;
  bool verbose = true;  // print what is loaded/trained and how long it took
  // Test images in the reference statistics: 0 means all 10000 (always, in
  // chapters). Tests use fewer to stay fast; such a reference is not cached.
  std::int64_t reference_limit = 0;
  // The Fréchet distance of two Gaussians behind every FID: chapter 03's exercise 03.5, which the chapter
  // programs pass in (dm::ch03::frechet_distance). Required: the Evaluator refuses to start without it.
  FrechetFn frechet;
};

// The options a chapter program evaluates with: the test set's features cached in <out_root>/cache,
// Fashion-MNIST from data_dir (empty: the Debian location), quick estimates for --quick runs, and the
// student's Frechet distance (chapter 03's 03.5, which the program passes).
EvalOptions chapter_eval_options(const std::filesystem::path& out_root, const std::filesystem::path& data_dir,
                                 torch::Device device, bool quick, FrechetFn frechet);

// What evaluate() measured on one set of samples.
// Each *_ci is the 95 % bootstrap interval of the metric before it, over the n samples.
struct EvalReport {
  std::int64_t n = 0;     // number of samples evaluated (always print it with the FID)
  double fid = 0;         // Fréchet distance, samples vs the whole test set (10k)
  Interval fid_ci;        //   (lo clamped at 0)
  double fid_floor = 0;   // the same for n real training images: the best reachable at this n
  Interval fid_floor_ci;  //   bootstrap over those n training images
  double kid = 0;         // unbiased MMD^2 (cubic kernel), samples vs test images, subsets of min(n, 1000)
  Interval kid_ci;
  double precision = 0;   // fraction of samples on the real manifold (k = 3, n real test images)
  Interval precision_ci;  //   (clamped to [0, 1], like recall_ci)
  double recall = 0;      // fraction of real images on the samples' manifold
  Interval recall_ci;
  int resamples = 0;                         // bootstrap resamples behind every interval
  double mean_confidence = 0;                // mean over samples of the classifier's top softmax probability
  std::array<double, 10> class_histogram{};  // fraction of samples per predicted class (sums to 1)
  double max_class_fraction = 0;             // max of class_histogram (mode collapse if large)

  // {"n", "fid", "fid_ci": [lo, hi], "fid_floor", "fid_floor_ci", "kid", "kid_ci", "precision",
  //  "precision_ci", "recall", "recall_ci", "resamples", "interval": "95 % bootstrap ...",
  //  "mean_confidence", "class_histogram": {"T-shirt/top": 0.1, ...}, "max_class_fraction"}
  nlohmann::json to_json() const;
  // One line, each interval in brackets, e.g.
  // "FID 23.40 [21.87, 25.02] (real-vs-real floor 0.52 [0.47, 0.58], n = 1000) | KID 0.0120 [0.0104, 0.0137] |
  //  precision 0.71 [0.68, 0.74] recall 0.52 [0.49, 0.55] | confidence 0.87 | classes: max 14% (Trouser)"
  std::string summary() const;
};

// The real-vs-real floor at n with its intervals: n training images (a fixed seeded subset) against the
// test set, bootstrapped over those n images.
struct RealFloor {
  std::int64_t n = 0;
  Estimate fid;
  Estimate kid;
};

class Evaluator {
 public:
  // Loads the classifier (EvalOptions::classifier; by default the course's committed one, its sha256
  // checked against its provenance). A missing, truncated or foreign file, or another hash, is a
  // dm::UserError naming the file and saying how to restore it: the evaluator never trains its own, so
  // every machine measures with the same classifier.
  // Then loads the features of the 10k test images (the reference) from
  // <cache_dir>/fmnist_test_features.pt, or computes and caches them; the file
  // carries a checksum of the classifier's weights and is recomputed when it
  // does not match (or cannot be read).
  explicit Evaluator(const EvalOptions& options);
  ~Evaluator();
  Evaluator(Evaluator&&) noexcept;
  Evaluator& operator=(Evaluator&&) noexcept;

  // Test-set accuracy of the classifier in [0, 1] (from the file's meta).
  double classifier_accuracy() const;
  // The sha256 of the classifier file: two FIDs are comparable when they were measured with the same one.
  const std::string& classifier_sha256() const;

  // Penultimate classifier features of images [N, 1, 28, 28] in [-1, 1]
  // (any device; values outside [-1, 1] are clamped) -> [N, 128] float on the CPU.
  torch::Tensor features(const torch::Tensor& images) const;
  // Softmax class probabilities of images [N, 1, 28, 28] -> [N, 10] float on the CPU.
  torch::Tensor probabilities(const torch::Tensor& images) const;

  // All metrics for samples [N, 1, 28, 28] in [-1, 1], N >= 10 (dm::UserError
  // otherwise). Deterministic for given samples. See EvalReport.
  EvalReport evaluate(const torch::Tensor& samples) const;

  // FID of n training images (a fixed seeded random subset) against the test
  // set's statistics: the real-vs-real floor for sample size n. FID is biased
  // upwards at small n, so a model's FID is only meaningful next to this.
  // Cached in memory per n. 2 <= n <= 60000.
  double fid_floor(std::int64_t n) const;
  // Its 95 % interval: bootstrap over the n training images (same resamples as samples of that n).
  Interval fid_floor_interval(std::int64_t n) const;
  // The floor's FID and KID with their intervals (the KID is computed on the first call for this n).
  RealFloor real_floor(std::int64_t n) const;
  // The training images (row indices into the training split, ascending) behind the floor at n.
  std::vector<std::int64_t> floor_rows(std::int64_t n) const;

  // FID of images [N, 1, 28, 28] against the test set, without interval (N >= 2).
  double fid(const torch::Tensor& images) const;

  // FID(a) - FID(b) of two paired sample sets [n, 1, 28, 28] (equal n; sample i of both from the same
  // initial noise) with its paired bootstrap interval: both sets are resampled with the same rows. Use it
  // whenever two rows of a table are compared; a difference whose interval contains 0 is not one.
  Estimate fid_difference(const torch::Tensor& a, const torch::Tensor& b) const;

  // Bootstrap resamples behind every interval (EvalOptions::resamples, or its default).
  int resamples() const;

  // The test set's statistics (n = 10000) and features [10000, 128].
  const GaussianStats& reference_stats() const;
  const Eigen::MatrixXd& reference_features() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The training images behind the real-vs-real floor at n: a fixed seeded subset of the `total`
// training images (row indices, ascending). The subsets of different n are nested.
std::vector<std::int64_t> floor_training_rows(std::int64_t total, std::int64_t n);

// [N, D] float tensor (any device) -> Eigen [N, D] double, row per sample.
Eigen::MatrixXd to_matrix(const torch::Tensor& features);

}  // namespace dm::eval
