// The course's offline evaluation (dm/eval/): the plumbing of the Fréchet
// distance (the distance itself is exercise 03.5, tested in tests/03_ddpm), the
// sample statistics, the unbiased KID (mean 0 on same-distribution samples,
// clearly positive on shifted ones), k-NN precision/recall on sets whose answer
// is known, and the classifier: deterministic training, save/load round trip,
// broken files and other hashes as dm::UserErrors, the committed classifier
// against its provenance, and an Evaluator loading a given (untrained)
// classifier without training it, with every metric's interval,
// and the sanity table on a few images. Nothing here trains the real
// classifier; the Fashion-MNIST tests are skipped when the data is absent.
// Run one test: build/default/bin/test_common --gtest_filter='FrechetDistance.*'
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <tuple>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>
#include <Eigen/Dense>
#include <nlohmann/json.hpp>

#include "dm/atomic_write.hpp"
#include "dm/data/fashion_mnist.hpp"
#include "dm/errors.hpp"
#include "dm/eval/classifier.hpp"
#include "dm/eval/evaluator.hpp"
#include "dm/eval/memorisation.hpp"
#include "dm/eval/metrics.hpp"
#include "dm/eval/sanity.hpp"
#include "dm/io/sha256.hpp"
#include "dm/io/tensor_file.hpp"
#include "normal_rows.hpp"
#include "temp_dir.hpp"

using dm::eval::GaussianStats;
using dm::testing::TempDir;
namespace fs = std::filesystem;
using ::testing::HasSubstr;

namespace {

using dm::testing::normal_rows;

GaussianStats stats(Eigen::VectorXd mu, Eigen::MatrixXd sigma) {
  return GaussianStats{std::move(mu), std::move(sigma), 0};
}

bool have_fashion_mnist() {
  return std::filesystem::exists(std::filesystem::path(dm::kFashionMnistDefaultDir) / "t10k-labels-idx1-ubyte.gz") ||
         std::filesystem::exists(std::filesystem::path(dm::kFashionMnistDefaultDir) / "t10k-labels-idx1-ubyte");
}

}  // namespace

// ---------------------------------------------------------------- statistics

TEST(GaussianStats, MatchesTheSampleMeanAndTheUnbiasedCovariance) {
  const Eigen::MatrixXd x = normal_rows(50, 4, 1, 0.3, 2.0);
  const auto s = dm::eval::gaussian_stats(x);
  EXPECT_EQ(s.n, 50);
  for (Eigen::Index a = 0; a < 4; ++a) {
    double mean = 0;
    for (Eigen::Index i = 0; i < 50; ++i) mean += x(i, a) / 50.0;
    EXPECT_NEAR(s.mu(a), mean, 1e-12);
    for (Eigen::Index b = 0; b < 4; ++b) {
      double mb = 0, cov = 0;
      for (Eigen::Index i = 0; i < 50; ++i) mb += x(i, b) / 50.0;
      for (Eigen::Index i = 0; i < 50; ++i) cov += (x(i, a) - mean) * (x(i, b) - mb);
      EXPECT_NEAR(s.sigma(a, b), cov / 49.0, 1e-12)
          << "covariance must divide by N - 1 (unbiased), entry " << a << "," << b;
    }
  }
}

TEST(GaussianStats, OneRowIsAUserError) {
  EXPECT_THROW(dm::eval::gaussian_stats(Eigen::MatrixXd::Zero(1, 3)), dm::UserError);
}

TEST(FrechetDistance, CallsTheGivenDistanceAndClampsRoundOffAndChecksDimensions) {
  const auto a = dm::eval::gaussian_stats(normal_rows(50, 4, 7));
  const auto b = dm::eval::gaussian_stats(normal_rows(50, 4, 8, 0.2, 1.3));
  int calls = 0;
  dm::eval::FrechetFn f = [&](const Eigen::VectorXd& m1, const Eigen::MatrixXd& s1, const Eigen::VectorXd& m2,
                              const Eigen::MatrixXd& s2) {
    ++calls;
    EXPECT_TRUE(m1.isApprox(a.mu) && s1.isApprox(a.sigma) && m2.isApprox(b.mu) && s2.isApprox(b.sigma));
    return -1e-13;  // round-off below zero
  };
  EXPECT_EQ(dm::eval::frechet_distance(f, a, b), 0.0) << "round-off below 0 is clamped";
  EXPECT_EQ(calls, 1);
  EXPECT_THROW(dm::eval::frechet_distance(f, stats(Eigen::VectorXd::Zero(2), Eigen::MatrixXd::Identity(2, 2)),
                                          stats(Eigen::VectorXd::Zero(3), Eigen::MatrixXd::Identity(3, 3))),
               dm::UserError);
  EXPECT_THROW(dm::eval::frechet_distance(nullptr, a, b), std::logic_error) << "no distance given";
}

// ---------------------------------------------------------------- KID

TEST(Kid, HasMeanZeroOnSamplesOfTheSameDistribution) {
  // 30 independent pairs (x, y) from N(0, I_8), 200 rows each, one subset each.
  // An unbiased estimator averages to 0 within a few standard errors; the biased
  // V-statistic (diagonal kept) would sit near 2 (E k(x,x) - E k(x,x')) / m ~ 0.08,
  // many standard errors away.
  const int reps = 30;
  std::vector<double> v;
  for (int r = 0; r < reps; ++r) {
    v.push_back(dm::eval::kid(normal_rows(200, 8, 1000 + r), normal_rows(200, 8, 2000 + r), 1, 200, r));
  }
  double mean = 0, var = 0;
  for (double x : v) mean += x / reps;
  for (double x : v) var += (x - mean) * (x - mean) / (reps - 1);
  const double se = std::sqrt(var / reps);
  EXPECT_LT(std::abs(mean), 4.0 * se) << "mean KID " << mean << " over " << reps
                                      << " same-distribution pairs, standard error " << se;
  EXPECT_LT(se, 0.02) << "the estimator's spread is unexpectedly large";
}

TEST(Kid, IsClearlyPositiveForShiftedSamples) {
  const Eigen::MatrixXd x = normal_rows(1000, 8, 11);
  const double same = dm::eval::kid(x, normal_rows(1000, 8, 12), 10, 500, 0);
  const double shifted = dm::eval::kid(x, normal_rows(1000, 8, 13, 0.5), 10, 500, 0);
  EXPECT_GT(shifted, 0.1);
  EXPECT_GT(shifted, 20 * std::abs(same)) << "same " << same << ", shifted " << shifted;
}

TEST(Kid, IsReproducibleForAFixedSeed) {
  const Eigen::MatrixXd x = normal_rows(300, 4, 14), y = normal_rows(300, 4, 15);
  EXPECT_EQ(dm::eval::kid(x, y, 5, 100, 42), dm::eval::kid(x, y, 5, 100, 42));
}

// ---------------------------------------------------------------- precision / recall

TEST(PrecisionRecall, IsOneAndOneForIdenticalSets) {
  const Eigen::MatrixXd x = normal_rows(400, 8, 16);
  const auto pr = dm::eval::precision_recall(x, x, 3);
  EXPECT_DOUBLE_EQ(pr.precision, 1.0);
  EXPECT_DOUBLE_EQ(pr.recall, 1.0);
}

TEST(PrecisionRecall, IsZeroForAFarAwayFakeSet) {
  const auto pr = dm::eval::precision_recall(normal_rows(400, 8, 17), normal_rows(400, 8, 18, 50.0), 3);
  EXPECT_EQ(pr.precision, 0.0);
  EXPECT_EQ(pr.recall, 0.0);
}

TEST(PrecisionRecall, SeparatesQualityFromCoverageWhenHalfTheModesAreDropped) {
  // Real: two far-apart clusters; fake: fresh samples of only the first one.
  Eigen::MatrixXd real(600, 4);
  real << normal_rows(300, 4, 19), normal_rows(300, 4, 20, 30.0);
  const auto pr = dm::eval::precision_recall(real, normal_rows(300, 4, 21), 3);
  EXPECT_GT(pr.precision, 0.9) << "fake samples lie on the real manifold";
  EXPECT_NEAR(pr.recall, 0.5, 0.06) << "only half of the real set is covered";
}

TEST(PrecisionRecall, KthNeighbourRadiiSkipThePointItself) {
  Eigen::MatrixXd x(4, 1);
  x << 0, 1, 3, 7;
  const Eigen::VectorXd r1 = dm::eval::kth_neighbour_radii(x, 1), r2 = dm::eval::kth_neighbour_radii(x, 2);
  EXPECT_DOUBLE_EQ(r1(0), 1.0);
  EXPECT_DOUBLE_EQ(r1(3), 4.0);
  EXPECT_DOUBLE_EQ(r2(0), 3.0);
  EXPECT_DOUBLE_EQ(r2(2), 3.0);  // neighbours of 3: 1 (2 away), 0 (3 away)
  EXPECT_THROW(dm::eval::kth_neighbour_radii(x, 4), dm::UserError);
}

// ---------------------------------------------------------------- classifier

TEST(Classifier, ProducesFeaturesOf128AndLogitsOf10) {
  torch::manual_seed(0);
  dm::eval::FmnistClassifier m;
  m->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::rand({3, 1, 28, 28}) * 2 - 1;
  EXPECT_EQ(m->features(x).sizes(), (std::vector<std::int64_t>{3, dm::eval::kFeatureDim}));
  EXPECT_EQ(m->logits(x).sizes(), (std::vector<std::int64_t>{3, 10}));
}

TEST(Classifier, TrainingTwiceWithTheSameSeedGivesIdenticalWeights) {
  // 2 steps on 256 synthetic images (class c: a bright square at a class-specific place).
  torch::manual_seed(123);
  auto labels = torch::arange(256, torch::kLong) % 10;
  auto images = torch::full({256, 1, 28, 28}, -1.0) + 0.1 * torch::randn({256, 1, 28, 28});
  for (int c = 0; c < 10; ++c) {
    images.index_put_({labels == c, torch::indexing::Slice(), torch::indexing::Slice(2 * c, 2 * c + 8),
                       torch::indexing::Slice(4, 12)},
                      1.0);
  }
  dm::ImageDataset data{images, labels};
  dm::eval::ClassifierTrainOptions o;
  o.epochs = 1;
  o.augment = true;  // the augmentation draws come from the seeded generator too
  auto a = dm::eval::train_classifier(data, o);
  auto b = dm::eval::train_classifier(data, o);
  const auto pa = a->parameters(), pb = b->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
  o.seed = 1;
  auto c = dm::eval::train_classifier(data, o);
  EXPECT_FALSE(torch::equal(a->parameters().back(), c->parameters().back())) << "the seed must matter";
}

TEST(Classifier, SaveAndLoadRoundTripsWeightsBatchNormBuffersAndMeta) {
  TempDir dir("eval_roundtrip");
  torch::manual_seed(1);
  dm::eval::FmnistClassifier m;
  {
    torch::NoGradGuard no_grad;
    m->named_buffers()["stem.1.running_mean"].fill_(0.25);  // a non-default buffer
  }
  m->eval();
  dm::eval::save_classifier(m, dir / "c.dmt", {{"accuracy", 0.5}});
  nlohmann::json meta;
  auto loaded = dm::eval::load_classifier(dir / "c.dmt", torch::kCPU, dm::io::sha256_file(dir / "c.dmt"), &meta);
  const auto x = torch::rand({2, 1, 28, 28}) * 2 - 1;
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(m->logits(x), loaded->logits(x))) << "float32 weights must load bit for bit";
  EXPECT_DOUBLE_EQ(meta.at("accuracy").get<double>(), 0.5);
  EXPECT_EQ(meta.at("version").get<int>(), dm::eval::kClassifierVersion);
  EXPECT_FALSE(std::filesystem::exists(dm::temp_path_for(dir / "c.dmt"))) << "no temporary file left behind";
}

TEST(Classifier, ATruncatedFileAnotherHashOrAnotherModelIsAUserErrorThatNamesTheFile) {
  TempDir dir("eval_truncated");
  dm::eval::FmnistClassifier m;
  dm::eval::save_classifier(m, dir / "c.dmt");
  const auto good = dm::io::sha256_file(dir / "c.dmt");
  auto expect_error = [&](const fs::path& file, const std::string& sha, const std::string& says) {
    try {
      dm::eval::load_classifier(file, torch::kCPU, sha);
      ADD_FAILURE() << file << " loaded without an error (expected: " << says << ")";
    } catch (const dm::UserError& e) {
      EXPECT_THAT(e.what(), HasSubstr(file.string()));
      EXPECT_THAT(e.what(), HasSubstr(says));
    }
  };
  expect_error(dir / "c.dmt", std::string(64, '0'), good);  // the message shows the file's actual hash
  dm::io::save_module(dir / "other.dmt", *torch::nn::Linear(3, 2), {{"kind", "something else"}});
  expect_error(dir / "other.dmt", "", "not a version-");
  expect_error(dir / "missing.dmt", "", "./course train-classifier");
  std::filesystem::resize_file(dir / "c.dmt", std::filesystem::file_size(dir / "c.dmt") / 2);
  expect_error(dir / "c.dmt", "", "c.dmt");
}

TEST(Classifier, TheCommittedOneMatchesItsProvenance) {
  const auto file = dm::eval::course_classifier_path();
  ASSERT_TRUE(std::filesystem::exists(file)) << file << " is missing: `git checkout -- reference/`";
  std::ifstream in(dm::eval::course_classifier_provenance_path());
  const auto prov = nlohmann::json::parse(in);
  EXPECT_EQ(dm::io::sha256_file(file), prov.at("sha256").get<std::string>())
      << file << " is not the classifier its provenance describes";
  nlohmann::json meta;
  dm::eval::load_classifier(file, torch::kCPU, prov.at("sha256").get<std::string>(), &meta);
  EXPECT_GT(meta.at("accuracy").get<double>(), 0.9) << "the committed classifier's test accuracy";
  EXPECT_DOUBLE_EQ(meta.at("accuracy").get<double>(), prov.at("accuracy").get<double>());
}

// ---------------------------------------------------------------- evaluator

TEST(Evaluator, ABrokenClassifierFileIsAUserErrorNotARetrain) {
  TempDir dir("eval_cache_truncated");
  std::ofstream(dir / "broken.dmt") << "not a tensor file";
  dm::eval::EvalOptions eo;
  eo.classifier = dir / "broken.dmt";
  eo.cache_dir = dir.path();
  eo.verbose = false;
  eo.frechet = [](const Eigen::VectorXd&, const Eigen::MatrixXd&, const Eigen::VectorXd&, const Eigen::MatrixXd&) {
    return 0.0;
  };
  try {
    dm::eval::Evaluator ev(eo);
    FAIL() << "the evaluator accepted a broken classifier file";
  } catch (const dm::UserError& e) {
    EXPECT_THAT(e.what(), HasSubstr("broken.dmt"));
  }
}

TEST(Evaluator, LoadsACachedClassifierAndReportsEveryMetricWithTheSampleCount) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "Fashion-MNIST not installed (apt install dataset-fashion-mnist)";
  // An untrained classifier given to the evaluator: it must load it, not train one.
  TempDir dir("eval_cache");
  torch::manual_seed(2);
  dm::eval::FmnistClassifier m;
  m->eval();
  dm::eval::save_classifier(m, dir / "untrained.dmt", {{"accuracy", 0.123}});
  dm::eval::EvalOptions eo;
  eo.classifier = dir / "untrained.dmt";
  eo.classifier_sha256 = dm::io::sha256_file(dir / "untrained.dmt");
  eo.cache_dir = dir.path();
  eo.verbose = false;
  eo.quick = true;
  eo.reference_limit = 1000;
  eo.resamples = 20;
  // The distance is the chapter's exercise 03.5; here a stand-in that records what it is given.
  std::vector<Eigen::Index> dims;
  eo.frechet = [&](const Eigen::VectorXd& m1, const Eigen::MatrixXd&, const Eigen::VectorXd& m2,
                   const Eigen::MatrixXd&) {
    dims.push_back(m1.size());
    return (m1 - m2).squaredNorm();
  };
  EXPECT_THROW(dm::eval::Evaluator([&] {
                 auto no = eo;
                 no.frechet = nullptr;
                 return no;
               }()),
               std::logic_error)
      << "an Evaluator without a Frechet distance must refuse to start";
  const dm::eval::Evaluator ev(eo);
  EXPECT_DOUBLE_EQ(ev.classifier_accuracy(), 0.123) << "the accuracy comes from the file's meta";
  EXPECT_EQ(ev.classifier_sha256(), eo.classifier_sha256);
  EXPECT_EQ(ev.reference_stats().n, 1000);
  EXPECT_EQ(ev.reference_stats().mu.size(), dm::eval::kFeatureDim);

  const auto test = dm::load_fashion_mnist("", dm::Split::Test, 200);
  const auto r = ev.evaluate(test.images);
  EXPECT_EQ(r.n, 200);
  EXPECT_GE(r.fid, 0.0);
  ASSERT_FALSE(dims.empty()) << "the FID goes through the given Frechet distance";
  EXPECT_EQ(dims[0], dm::eval::kFeatureDim);
  EXPECT_GT(r.fid_floor, 0.0);
  EXPECT_DOUBLE_EQ(r.fid_floor, ev.fid_floor(200));
  double total = 0;
  for (double h : r.class_histogram) total += h;
  EXPECT_NEAR(total, 1.0, 1e-12);
  EXPECT_GE(r.mean_confidence, 0.1);
  EXPECT_LE(r.mean_confidence, 1.0);
  EXPECT_THAT(r.summary(), HasSubstr("n = 200"));
  EXPECT_EQ(r.to_json().at("n").get<std::int64_t>(), 200);
  // Every metric with its interval, in the report, the summary and the JSON.
  EXPECT_EQ(r.resamples, 20);
  EXPECT_EQ(ev.resamples(), 20);
  for (const auto& [name, v, ci] :
       {std::tuple{"fid", r.fid, r.fid_ci}, std::tuple{"fid_floor", r.fid_floor, r.fid_floor_ci},
        std::tuple{"kid", r.kid, r.kid_ci}, std::tuple{"precision", r.precision, r.precision_ci},
        std::tuple{"recall", r.recall, r.recall_ci}}) {
    EXPECT_LE(ci.lo, ci.hi) << name;
    EXPECT_TRUE(ci.contains(v)) << name << " " << v << " outside [" << ci.lo << ", " << ci.hi << "]";
    const auto j = r.to_json().at(std::string(name) + "_ci");
    ASSERT_EQ(j.size(), 2u) << name;
    EXPECT_DOUBLE_EQ(j[0].get<double>(), ci.lo) << name;
  }
  EXPECT_EQ(r.to_json().at("resamples").get<int>(), 20);
  EXPECT_THAT(r.summary(), HasSubstr(fmt::format("FID {:.2f} [{:.2f}, {:.2f}]", r.fid, r.fid_ci.lo, r.fid_ci.hi)));
  EXPECT_THAT(r.summary(), HasSubstr(fmt::format("KID {:.4f} [{:.4f}, {:.4f}]", r.kid, r.kid_ci.lo, r.kid_ci.hi)));
  EXPECT_DOUBLE_EQ(ev.fid_floor_interval(200).lo, r.fid_floor_ci.lo);
  const auto floor = ev.real_floor(200);
  EXPECT_DOUBLE_EQ(floor.fid.value, r.fid_floor);
  EXPECT_TRUE(floor.kid.ci.contains(floor.kid.value));
  const auto same = ev.fid_difference(test.images, test.images);
  EXPECT_EQ(same.ci.lo, 0.0);
  EXPECT_EQ(same.ci.hi, 0.0);
  EXPECT_THROW(ev.fid_difference(test.images, test.images.narrow(0, 0, 100)), dm::UserError);
  EXPECT_EQ(ev.features(test.images.narrow(0, 0, 5)).sizes(), (std::vector<std::int64_t>{5, dm::eval::kFeatureDim}));
  EXPECT_THROW(ev.evaluate(test.images.narrow(0, 0, 5)), dm::UserError);
  EXPECT_THROW(ev.evaluate(torch::zeros({20, 3, 28, 28})), dm::UserError);
  EXPECT_THROW(dm::eval::Evaluator([&] {
                 auto few = eo;
                 few.resamples = 3;
                 return few;
               }()),
               dm::UserError)
      << "3 resamples cannot give a 95 % interval";

  // Memorisation: copies of training images sit at distance 0 from the training set, unseen test images do not.
  const auto train_few = dm::load_fashion_mnist("", dm::Split::Train, 3000);
  const auto copied =
      dm::eval::memorisation_check(ev, train_few.images.narrow(0, 100, 50), train_few.images, test.images);
  EXPECT_EQ(copied.n, 50);
  EXPECT_NEAR(copied.sample_median, 0.0, 1e-5) << "a copy of a training image has that image as its nearest";
  EXPECT_EQ(copied.nearest[0], 100);
  EXPECT_DOUBLE_EQ(copied.closer_than_test_p01, 1.0);
  EXPECT_GT(copied.test_median, 0.0);
  const auto fresh = dm::eval::memorisation_check(ev, test.images.narrow(0, 100, 50), train_few.images, test.images);
  EXPECT_LE(fresh.closer_than_test_p01, 0.2) << "unseen images are not nearer than the test images' 1st percentile";
  EXPECT_THROW(dm::eval::memorisation_check(ev, test.images, train_few.images, test.images.narrow(0, 0, 10)),
               dm::UserError);

  // The sanity table on a few images: every row with its n, the floors of each size, the paired blur.
  dm::eval::SanityOptions so;
  so.floor_sizes = {20, 40};
  so.n = 20;
  so.sets = 3;
  const auto table = dm::eval::sanity_table(ev, dm::load_fashion_mnist("", dm::Split::Train, 3000), so);
  ASSERT_EQ(table.floors.size(), 2u);
  EXPECT_EQ(table.floors[1].n, 40);
  ASSERT_EQ(table.rows.size(), 5u);
  for (const auto& row : table.rows) {
    EXPECT_EQ(row.report.n, 20) << row.name;
    EXPECT_THAT(table.text(), HasSubstr(row.name));
  }
  EXPECT_THAT(table.rows[3].name, HasSubstr("Trouser"));
  EXPECT_DOUBLE_EQ(table.rows[0].report.fid_floor, table.floors[0].fid.value) << "the rows' floor is the n = 20 floor";
  EXPECT_TRUE(table.blur_difference.ci.contains(table.blur_difference.value));
  EXPECT_EQ(table.to_json().at("rows").size(), 5u);
  ASSERT_EQ(table.spreads.size(), 2u) << "the spread over seeds of real and of blurred images";
  EXPECT_EQ(table.spreads[0].sets, 3);
  EXPECT_LE(table.spreads[0].min, table.spreads[0].mean);
  EXPECT_LE(table.spreads[0].mean, table.spreads[0].max);
  so.n = 2000;
  EXPECT_THROW(dm::eval::sanity_table(ev, dm::load_fashion_mnist("", dm::Split::Train, 3000), so), dm::UserError)
      << "3000 images cannot fill the rows and sets of 2000 images";
}
