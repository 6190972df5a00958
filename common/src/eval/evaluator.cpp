// The Evaluator: loads the course's committed classifier (reference/), keeps the test
// set's reference features, and turns a batch of samples into an EvalReport.
#include "dm/eval/evaluator.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

#include "dm/atomic_write.hpp"
#include "dm/data/fashion_mnist.hpp"
#include "dm/errors.hpp"
#include "dm/eval/classifier.hpp"
#include "dm/io/reference.hpp"
#include "dm/io/sha256.hpp"
#include "dm/progress.hpp"

namespace dm::eval {

namespace {

constexpr std::uint64_t kSubsetSeed = 20240611;  // which train/test images the floor and precision/recall use
constexpr int kNearestK = 3;
constexpr std::uint64_t kBootstrapSeed = 20240612;  // the resamples behind every interval (the same for every set of n)
constexpr int kKidSubsetSize = 1000;
constexpr double kLevel = 0.95;  // every interval is a 95 % interval

Interval clamped(Interval ci, double lo, double hi) { return {std::clamp(ci.lo, lo, hi), std::clamp(ci.hi, lo, hi)}; }

// The first `count` entries of a seeded permutation of [0, n) (same on every platform).
std::vector<std::int64_t> seeded_subset(std::int64_t n, std::int64_t count, std::uint64_t seed) {
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), std::int64_t{0});
  std::mt19937_64 rng(seed);
  for (std::int64_t i = 0; i < count; ++i) {
    const auto j = i + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n - i));
    std::swap(idx[static_cast<std::size_t>(i)], idx[static_cast<std::size_t>(j)]);
  }
  idx.resize(static_cast<std::size_t>(count));
  std::sort(idx.begin(), idx.end());
  return idx;
}

Eigen::MatrixXd select_rows(const Eigen::MatrixXd& x, const std::vector<std::int64_t>& rows) {
  Eigen::MatrixXd out(static_cast<Eigen::Index>(rows.size()), x.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) out.row(static_cast<Eigen::Index>(i)) = x.row(rows[i]);
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

std::vector<std::int64_t> floor_training_rows(std::int64_t total, std::int64_t n) {
  if (n < 0 || n > total) throw UserError(fmt::format("floor_training_rows: n = {} of {} images", n, total));
  return seeded_subset(total, n, kSubsetSeed);
}

Eigen::MatrixXd to_matrix(const torch::Tensor& features) {
  if (features.dim() != 2) throw UserError("to_matrix expects a [N, D] tensor");
  const auto t = features.detach().to(torch::kCPU, torch::kDouble).contiguous();
  // Eigen's default storage is column-major; map as row-major and copy.
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  return Eigen::Map<const RowMajor>(t.data_ptr<double>(), t.size(0), t.size(1));
}

struct Evaluator::Impl {
  EvalOptions opts;
  FmnistClassifier model{nullptr};
  std::filesystem::path classifier_path;
  std::string sha256;  // of the classifier file
  double accuracy = 0;
  Eigen::MatrixXd test_features;  // [10000, 128]
  GaussianStats test_stats;
  mutable std::mutex mutex;  // guards the lazily filled members below
  mutable std::optional<torch::Tensor> train_images;
  struct Floor {
    Eigen::MatrixXd features;  // [n, 128] of the floor's training images
    Estimate fid;
    std::optional<Estimate> kid;  // computed when asked for (real_floor)
  };
  mutable std::map<std::int64_t, Floor> floors;
  int resamples = 200;
  int kid_subsets = 10;
  mutable std::map<std::int64_t, std::pair<Eigen::MatrixXd, Eigen::VectorXd>> real_manifolds;  // n -> (rows, radii)

  // The floor's features and FID (with its interval) for n, computed once. Call with `mutex` held.
  Floor& floor_locked(std::int64_t n) const {
    if (auto it = floors.find(n); it != floors.end()) return it->second;
    if (!train_images) train_images = load_fashion_mnist(opts.data_dir, Split::Train).images;
    const auto total = train_images->size(0);
    if (n < 2 || n > total) {
      throw UserError(fmt::format("fid_floor: n must be between 2 and {} (the training images), got {}", total, n));
    }
    const auto rows = floor_training_rows(total, n);
    const auto idx = torch::from_blob(const_cast<std::int64_t*>(rows.data()), {n}, torch::kLong).clone();
    Floor f;
    f.features = to_matrix(features_and_logits(train_images->index_select(0, idx)).narrow(1, 0, kFeatureDim));
    f.fid = bootstrap(fid_resampled(opts.frechet, f.features, test_stats), counts(n), kLevel);
    f.fid.ci = clamped(f.fid.ci, 0, std::numeric_limits<double>::infinity());
    return floors.emplace(n, std::move(f)).first->second;
  }

  std::vector<Counts> counts(std::int64_t n) const { return bootstrap_counts(n, resamples, kBootstrapSeed); }

  void say(const std::string& line) const {
    if (opts.verbose) std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }

  // [N, 1, 28, 28] -> [N, 128 + 10]: features then logits, one forward pass.
  torch::Tensor features_and_logits(const torch::Tensor& images) const {
    if (images.dim() != 4 || images.size(1) != 1 || images.size(2) != 28 || images.size(3) != 28) {
      throw UserError("the evaluator expects images of shape [N, 1, 28, 28], got " +
                      std::string(images.sizes().vec().empty() ? "a scalar" : c10::str(images.sizes())));
    }
    auto& m = const_cast<FmnistClassifier&>(model);
    return batched_apply(
        [&](const torch::Tensor& x) {
          const auto f = m->features(x.clamp(-1.0, 1.0));  // [B, 128]
          return torch::cat({f, m->head(f)}, 1);           // [B, 138]
        },
        images, opts.device, 500);
  }

  // A fingerprint of the weights: the reference features are only reused for the classifier that made them.
  // The sum of |w| over every parameter and buffer, in one fixed order: a parallel sum() would change its
  // last bits with the thread count, and a cache written with 1 thread would not match a 2-thread run.
  double weights_checksum() const {
    torch::NoGradGuard no_grad;
    double sum = 0;
    auto add = [&sum](const torch::Tensor& t) {
      const auto c = t.detach().to(torch::kCPU, torch::kDouble).contiguous();
      const double* d = c.data_ptr<double>();
      for (std::int64_t i = 0; i < c.numel(); ++i) sum += std::abs(d[i]);
    };
    for (const auto& p : model->parameters()) add(p);
    for (const auto& b : model->buffers()) add(b);
    return sum;
  }

  // Test-set features [10000, 128] from the cache file when it matches this classifier, else computed (and cached).
  torch::Tensor reference_features(const std::filesystem::path& file) const {
    const double checksum = weights_checksum();
    const bool full = opts.reference_limit <= 0;
    if (full && std::filesystem::exists(file)) {
      try {
        std::vector<torch::Tensor> saved;
        torch::load(saved, file.string());
        if (saved.size() == 2 && saved[1].item<double>() == checksum && saved[0].dim() == 2 &&
            saved[0].size(1) == kFeatureDim) {
          return saved[0];
        }
        say("evaluator: " + file.string() + " belongs to another classifier: recomputing it");
      } catch (const c10::Error&) {
        say("evaluator: " + file.string() + " is unreadable: recomputing it");
      }
    }
    const auto test = load_fashion_mnist(opts.data_dir, Split::Test, full ? 0 : opts.reference_limit);
    auto feats = features_and_logits(test.images).narrow(1, 0, kFeatureDim).contiguous();
    if (full) {
      const auto tmp = temp_path_for(file);
      std::vector<torch::Tensor> to_save{feats, torch::tensor(checksum, torch::kDouble)};
      torch::save(to_save, tmp.string());
      commit_atomic(tmp, file);
    }
    return feats;
  }
};

EvalOptions chapter_eval_options(const std::filesystem::path& out_root, const std::filesystem::path& data_dir,
                                 torch::Device device, bool quick, FrechetFn frechet) {
  EvalOptions eo;
  eo.cache_dir = out_root / "cache";
  eo.data_dir = data_dir;
  eo.device = device;
  eo.quick = quick;
  eo.frechet = std::move(frechet);
  return eo;
}

Evaluator::Evaluator(const EvalOptions& options) : impl_(std::make_unique<Impl>()) {
  auto& d = *impl_;
  d.opts = options;
  if (options.resamples != 0 && options.resamples < 10) {
    throw UserError(
        fmt::format("EvalOptions::resamples must be 0 (the default) or at least 10, got {}", options.resamples));
  }
  d.resamples = options.resamples != 0 ? options.resamples : (options.quick ? 100 : 200);
  d.kid_subsets = options.quick ? 3 : 10;
  if (!options.frechet)
    throw std::logic_error(
        "EvalOptions::frechet is not set: pass chapter 03's Frechet distance (dm::ch03::frechet_distance, 03.5)");
  std::error_code ec;
  std::filesystem::create_directories(options.cache_dir, ec);
  if (ec) throw UserError("cannot create the cache folder " + options.cache_dir.string() + ": " + ec.message());

  // The course's committed classifier, its sha256 from the provenance beside it; or the file given.
  d.classifier_path = options.classifier.empty() ? course_classifier_path() : options.classifier;
  std::string expect = options.classifier_sha256;
  if (options.classifier.empty()) expect = dm::io::reference_sha256(d.classifier_path);
  nlohmann::json meta;
  d.model = load_classifier(d.classifier_path, options.device, expect, &meta);  // dm::UserError naming the file
  d.sha256 = expect.empty() ? dm::io::sha256_file(d.classifier_path) : expect;
  if (meta.contains("accuracy") && meta.at("accuracy").is_number()) {
    d.accuracy = meta.at("accuracy").get<double>();
  } else {
    d.accuracy = dm::eval::classifier_accuracy(d.model, load_fashion_mnist(options.data_dir, Split::Test));
  }
  // The course's own is named as the repository names it, the same on every machine.
  const auto shown =
      options.classifier.empty() ? std::string("reference/fmnist_classifier.dmt") : d.classifier_path.string();
  d.say(fmt::format("evaluator: classifier {} (sha256 {}..., test accuracy {:.2f} %)", shown, d.sha256.substr(0, 12),
                    100 * d.accuracy));

  const auto t0 = std::chrono::steady_clock::now();
  d.test_features = to_matrix(d.reference_features(options.cache_dir / "fmnist_test_features.pt"));
  d.test_stats = gaussian_stats(d.test_features);
  d.say(fmt::format("evaluator: reference statistics of {} test images ({:.1f} s)", d.test_stats.n, seconds_since(t0)));
}

Evaluator::~Evaluator() = default;
Evaluator::Evaluator(Evaluator&&) noexcept = default;
Evaluator& Evaluator::operator=(Evaluator&&) noexcept = default;

double Evaluator::classifier_accuracy() const { return impl_->accuracy; }
const std::string& Evaluator::classifier_sha256() const { return impl_->sha256; }

torch::Tensor Evaluator::features(const torch::Tensor& images) const {
  return impl_->features_and_logits(images).narrow(1, 0, kFeatureDim).contiguous();
}

torch::Tensor Evaluator::probabilities(const torch::Tensor& images) const {
  return impl_->features_and_logits(images).narrow(1, kFeatureDim, 10).softmax(1);
}

const GaussianStats& Evaluator::reference_stats() const { return impl_->test_stats; }
const Eigen::MatrixXd& Evaluator::reference_features() const { return impl_->test_features; }

double Evaluator::fid_floor(std::int64_t n) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->floor_locked(n).fid.value;
}

Interval Evaluator::fid_floor_interval(std::int64_t n) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->floor_locked(n).fid.ci;
}

RealFloor Evaluator::real_floor(std::int64_t n) const {
  auto& d = *impl_;
  std::lock_guard<std::mutex> lock(d.mutex);
  auto& f = d.floor_locked(n);
  if (!f.kid) {
    f.kid = bootstrap(kid_resampled(f.features, d.test_features, d.kid_subsets, kKidSubsetSize, /*seed=*/0),
                      d.counts(n), kLevel);
  }
  return {n, f.fid, *f.kid};
}

std::vector<std::int64_t> Evaluator::floor_rows(std::int64_t n) const {
  auto& d = *impl_;
  std::lock_guard<std::mutex> lock(d.mutex);
  if (!d.train_images) d.train_images = load_fashion_mnist(d.opts.data_dir, Split::Train).images;
  return floor_training_rows(d.train_images->size(0), n);
}

int Evaluator::resamples() const { return impl_->resamples; }

double Evaluator::fid(const torch::Tensor& images) const {
  return frechet_distance(impl_->opts.frechet, gaussian_stats(to_matrix(features(images))), impl_->test_stats);
}

Estimate Evaluator::fid_difference(const torch::Tensor& a, const torch::Tensor& b) const {
  auto& d = *impl_;
  const auto na = a.dim() > 0 ? a.size(0) : 0, nb = b.dim() > 0 ? b.size(0) : 0;
  if (na != nb || na < 10) {
    throw UserError(fmt::format(
        "fid_difference needs two paired sample sets of equal size, at least 10 each (got {} and {})", na, nb));
  }
  const Eigen::MatrixXd fa = to_matrix(features(a)), fb = to_matrix(features(b));
  return paired_bootstrap(fid_resampled(d.opts.frechet, fa, d.test_stats),
                          fid_resampled(d.opts.frechet, fb, d.test_stats), d.counts(na), kLevel);
}

EvalReport Evaluator::evaluate(const torch::Tensor& samples) const {
  auto& d = *impl_;
  const auto n = samples.dim() > 0 ? samples.size(0) : 0;
  if (n < 10) throw UserError(fmt::format("evaluate needs at least 10 samples, got {}", n));
  const auto out = d.features_and_logits(samples);                         // [N, 138]
  const Eigen::MatrixXd feats = to_matrix(out.narrow(1, 0, kFeatureDim));  // [N, 128]
  const auto probs = out.narrow(1, kFeatureDim, 10).softmax(1);            // [N, 10]
  // One set of resamples of the n samples for every metric: row i of the samples drawn counts[b][i] times.
  const auto resamples = d.counts(n);
  const double inf = std::numeric_limits<double>::infinity();

  EvalReport r;
  r.n = n;
  r.resamples = d.resamples;
  const auto fid = bootstrap(fid_resampled(d.opts.frechet, feats, d.test_stats), resamples, kLevel);
  r.fid = fid.value;
  r.fid_ci = clamped(fid.ci, 0, inf);
  {
    std::lock_guard<std::mutex> lock(d.mutex);
    const auto& floor = d.floor_locked(std::min<std::int64_t>(n, 60000));
    r.fid_floor = floor.fid.value;
    r.fid_floor_ci = floor.fid.ci;
  }
  const auto kid =
      bootstrap(kid_resampled(feats, d.test_features, d.kid_subsets, kKidSubsetSize, /*seed=*/0), resamples, kLevel);
  r.kid = kid.value;
  r.kid_ci = kid.ci;

  // Precision/recall against the same number of real test images (radii depend on the set size).
  const auto n_real = std::min<std::int64_t>(n, d.test_features.rows());
  {
    std::lock_guard<std::mutex> lock(d.mutex);
    auto it = d.real_manifolds.find(n_real);
    if (it == d.real_manifolds.end()) {
      Eigen::MatrixXd real = select_rows(d.test_features, seeded_subset(d.test_features.rows(), n_real, kSubsetSeed));
      Eigen::VectorXd radii = kth_neighbour_radii(real, kNearestK);
      it = d.real_manifolds.emplace(n_real, std::make_pair(std::move(real), std::move(radii))).first;
    }
    const auto& [real, radii] = it->second;
    const auto precision = bootstrap(precision_resampled(feats, real, radii), resamples, kLevel);
    const auto recall = bootstrap(recall_resampled(real, feats, kNearestK), resamples, kLevel);
    r.precision = precision.value;
    r.precision_ci = clamped(precision.ci, 0, 1);
    r.recall = recall.value;
    r.recall_ci = clamped(recall.ci, 0, 1);
  }

  const auto [top_p, top_class] = probs.max(1);
  r.mean_confidence = top_p.mean().item<double>();
  const auto counts = torch::bincount(top_class, /*weights=*/{}, /*minlength=*/10);
  for (int c = 0; c < 10; ++c) r.class_histogram[c] = counts[c].item<double>() / static_cast<double>(n);
  r.max_class_fraction = *std::max_element(r.class_histogram.begin(), r.class_histogram.end());
  return r;
}

namespace {

nlohmann::json json_interval(const Interval& ci) { return nlohmann::json::array({ci.lo, ci.hi}); }

}  // namespace

nlohmann::json EvalReport::to_json() const {
  nlohmann::json hist = nlohmann::json::object();
  for (int c = 0; c < 10; ++c) hist[kFashionMnistClasses[c]] = class_histogram[c];
  return {{"n", n},
          {"fid", fid},
          {"fid_ci", json_interval(fid_ci)},
          {"fid_floor", fid_floor},
          {"fid_floor_ci", json_interval(fid_floor_ci)},
          {"kid", kid},
          {"kid_ci", json_interval(kid_ci)},
          {"precision", precision},
          {"precision_ci", json_interval(precision_ci)},
          {"recall", recall},
          {"recall_ci", json_interval(recall_ci)},
          {"resamples", resamples},
          {"interval", "95 % bootstrap over the n samples (percentiles shifted to the estimate), test set fixed"},
          {"mean_confidence", mean_confidence},
          {"class_histogram", hist},
          {"max_class_fraction", max_class_fraction}};
}

std::string EvalReport::summary() const {
  const auto top = std::max_element(class_histogram.begin(), class_histogram.end()) - class_histogram.begin();
  return fmt::format(
      "FID {:.2f} [{:.2f}, {:.2f}] (real-vs-real floor {:.2f} [{:.2f}, {:.2f}], n = {}) | "
      "KID {:.4f} [{:.4f}, {:.4f}] | precision {:.2f} [{:.2f}, {:.2f}] recall {:.2f} [{:.2f}, {:.2f}] | "
      "confidence {:.2f} | classes: max {:.0f}% ({})",
      fid, fid_ci.lo, fid_ci.hi, fid_floor, fid_floor_ci.lo, fid_floor_ci.hi, n, kid, kid_ci.lo, kid_ci.hi, precision,
      precision_ci.lo, precision_ci.hi, recall, recall_ci.lo, recall_ci.hi, mean_confidence, 100 * max_class_fraction,
      kFashionMnistClasses[top]);
}

}  // namespace dm::eval
