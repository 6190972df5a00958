// The course library's data: IDX reading (data/idx.hpp), Fashion-MNIST loading
// (data/fashion_mnist.hpp) and the synthetic 2-D sets (data/toy2d.hpp).
// Checks that valid IDX files (raw and gzipped) read back, that every kind of broken file is a
// dm::UserError saying what is wrong, the Debian Fashion-MNIST test split (skipped when absent),
// the Gaussian mixture's score against finite differences of its log density, its noised law,
// and its samples' moments.
// Run one test: build/default/bin/test_common --gtest_filter='IdxReader.*'
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <fstream>

#include "dm/data/fashion_mnist.hpp"
#include "dm/data/idx.hpp"
#include "dm/data/toy2d.hpp"
#include "dm/errors.hpp"
#include "temp_dir.hpp"
#include "testing.hpp"

using dm::testing::mc_tol;
using dm::testing::TempDir;
using dm::testing::tensors_close;
using ::testing::HasSubstr;

namespace {

using Bytes = std::vector<std::uint8_t>;

void put_be32(Bytes& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
}

// An IDX images file: `count` images of rows x cols whose pixel i is i % 251.
Bytes idx_images(std::uint32_t count, std::uint32_t rows, std::uint32_t cols, std::size_t pixels,
                 std::uint32_t magic = 0x00000803) {
  Bytes b;
  put_be32(b, magic);
  put_be32(b, count);
  put_be32(b, rows);
  put_be32(b, cols);
  for (std::size_t i = 0; i < pixels; ++i) b.push_back(static_cast<std::uint8_t>(i % 251));
  return b;
}

Bytes idx_labels(const Bytes& labels) {
  Bytes b;
  put_be32(b, 0x00000801);
  put_be32(b, static_cast<std::uint32_t>(labels.size()));
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}

void write_raw(const std::filesystem::path& file, const Bytes& b) {
  std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

void write_gz(const std::filesystem::path& file, const Bytes& b) {
  gzFile gz = gzopen(file.c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  ASSERT_EQ(gzwrite(gz, b.data(), static_cast<unsigned>(b.size())), static_cast<int>(b.size()));
  gzclose(gz);
}

Bytes read_raw(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The message of the dm::UserError that `f` throws (a test failure if it throws none).
template <class F>
std::string user_error(F&& f) {
  try {
    f();
  } catch (const dm::UserError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no dm::UserError was thrown";
  return "";
}

torch::Generator seeded(std::uint64_t seed) { return at::detail::createCPUGenerator(seed); }

}  // namespace

// ------------------------------------------------------------------ IDX

TEST(IdxReader, ReadsRawAndGzippedFilesBack) {
  TempDir dir("idx_ok");
  const auto images = idx_images(3, 4, 5, 60);
  write_raw(dir / "img", images);
  write_gz(dir / "img.gz", images);
  for (const auto* name : {"img", "img.gz"}) {
    const auto idx = dm::read_idx_images(dir / name);
    EXPECT_EQ(idx.count, 3);
    EXPECT_EQ(idx.rows, 4);
    EXPECT_EQ(idx.cols, 5);
    ASSERT_EQ(idx.pixels.size(), 60u);
    EXPECT_EQ(idx.pixels[59], 59);
  }
  write_gz(dir / "lab.gz", idx_labels({3, 1, 4, 1, 5}));
  EXPECT_EQ(dm::read_idx_labels(dir / "lab.gz"), Bytes({3, 1, 4, 1, 5}));
  EXPECT_EQ(dm::read_maybe_gzip(dir / "img.gz"), images);
}

TEST(IdxReader, MissingFileIsAUserErrorNamingIt) {
  const auto msg = user_error([] { dm::read_idx_images("/nonexistent/dir/train-images-idx3-ubyte.gz"); });
  EXPECT_THAT(msg, HasSubstr("/nonexistent/dir/train-images-idx3-ubyte.gz"));
  EXPECT_THAT(msg, HasSubstr("not found"));
}

TEST(IdxReader, WrongMagicSaysWhatWasExpectedAndFound) {
  TempDir dir("idx_magic");
  write_raw(dir / "labels_not_images", idx_labels({1, 2, 3}));
  const auto msg = user_error([&] { dm::read_idx_images(dir / "labels_not_images"); });
  EXPECT_THAT(msg, HasSubstr("labels_not_images"));
  EXPECT_THAT(msg, HasSubstr("wrong magic"));
  EXPECT_THAT(msg, HasSubstr("expected 0x00000803"));
  EXPECT_THAT(msg, HasSubstr("found 0x00000801"));
}

TEST(IdxReader, SizesThatDisagreeWithTheLengthAreReported) {
  TempDir dir("idx_trunc");
  write_raw(dir / "short", idx_images(3, 4, 5, 40));  // header says 60 bytes of pixels, 40 present
  EXPECT_THAT(user_error([&] { dm::read_idx_images(dir / "short"); }),
              HasSubstr("truncated: header says 3 images of 4x5 = 60 bytes, file has 40"));
  write_raw(dir / "long", idx_images(3, 4, 5, 70));
  EXPECT_THAT(user_error([&] { dm::read_idx_images(dir / "long"); }), HasSubstr("extra data"));
  write_raw(dir / "tiny", Bytes{0, 0, 8, 3, 0});
  EXPECT_THAT(user_error([&] { dm::read_idx_images(dir / "tiny"); }), HasSubstr("truncated"));
  // A corrupt header claiming 2^96 bytes: an error, not an attempt to allocate them.
  write_raw(dir / "huge", idx_images(0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 10));
  EXPECT_THAT(user_error([&] { dm::read_idx_images(dir / "huge"); }), HasSubstr("truncated"));
  Bytes labels = idx_labels({1, 2, 3});
  labels.pop_back();
  write_raw(dir / "short_labels", labels);
  EXPECT_THAT(user_error([&] { dm::read_idx_labels(dir / "short_labels"); }),
              HasSubstr("header says 3 labels = 3 bytes, file has 2"));
}

TEST(IdxReader, TruncatedOrCorruptGzipIsAUserError) {
  TempDir dir("idx_gz");
  write_gz(dir / "good.gz", idx_images(20, 28, 28, 20 * 28 * 28));
  const Bytes good = read_raw(dir / "good.gz");
  ASSERT_GT(good.size(), 40u);

  write_raw(dir / "cut.gz", Bytes(good.begin(), good.begin() + std::ptrdiff_t(good.size() / 2)));
  auto msg = user_error([&] { dm::read_idx_images(dir / "cut.gz"); });
  EXPECT_THAT(msg, HasSubstr("cut.gz"));
  EXPECT_THAT(msg, HasSubstr("truncated gzip"));

  Bytes bad_method = good;
  bad_method[2] = 7;  // the compression method must be 8 (deflate)
  write_raw(dir / "method.gz", bad_method);
  EXPECT_THAT(user_error([&] { dm::read_idx_images(dir / "method.gz"); }), HasSubstr("corrupt gzip"));

  Bytes bad_crc = good;
  bad_crc[bad_crc.size() - 6] ^= 0xFF;  // the CRC-32 of the trailer
  write_raw(dir / "crc.gz", bad_crc);
  msg = user_error([&] { dm::read_idx_images(dir / "crc.gz"); });
  EXPECT_THAT(msg, HasSubstr("corrupt gzip"));
  EXPECT_THAT(msg, HasSubstr("crc.gz"));
}

// ------------------------------------------------------------------ Fashion-MNIST

TEST(FashionMnist, MissingFolderNamesTheDebianPackageAndTheFlag) {
  const auto msg = user_error([] { dm::load_fashion_mnist("/nonexistent/fmnist", dm::Split::Train); });
  EXPECT_THAT(msg, HasSubstr("/nonexistent/fmnist"));
  EXPECT_THAT(msg, HasSubstr("dataset-fashion-mnist"));
  EXPECT_THAT(msg, HasSubstr("--data-dir"));
}

TEST(FashionMnist, MissingFileAndCountMismatchAreUserErrors) {
  TempDir dir("fmnist_bad");
  write_gz(dir / "t10k-images-idx3-ubyte.gz", idx_images(3, 28, 28, 3 * 784));
  auto msg = user_error([&] { dm::load_fashion_mnist(dir.path(), dm::Split::Test); });
  EXPECT_THAT(msg, HasSubstr("t10k-labels-idx1-ubyte"));
  EXPECT_THAT(msg, HasSubstr("--data-dir"));
  write_raw(dir / "t10k-labels-idx1-ubyte", idx_labels({1, 2}));  // not gzipped: accepted too
  msg = user_error([&] { dm::load_fashion_mnist(dir.path(), dm::Split::Test); });
  EXPECT_THAT(msg, HasSubstr("3 images"));
  EXPECT_THAT(msg, HasSubstr("2 labels"));
}

TEST(FashionMnist, LoadsTheDebianTestSplit) {
  if (!std::filesystem::is_directory(dm::kFashionMnistDefaultDir))
    GTEST_SKIP() << dm::kFashionMnistDefaultDir << " absent (apt-get install dataset-fashion-mnist)";
  const auto ds = dm::load_fashion_mnist("", dm::Split::Test);
  ASSERT_EQ(ds.images.sizes(), torch::IntArrayRef({10000, 1, 28, 28}));
  ASSERT_EQ(ds.labels.sizes(), torch::IntArrayRef({10000}));
  EXPECT_EQ(ds.images.scalar_type(), torch::kFloat);
  EXPECT_EQ(ds.labels.scalar_type(), torch::kLong);
  EXPECT_EQ(ds.labels[0].item<std::int64_t>(), 9);  // the first test image is an ankle boot
  EXPECT_EQ(ds.images.min().item<float>(), -1.0f);
  EXPECT_EQ(ds.images.max().item<float>(), 1.0f);
  EXPECT_EQ(ds.labels.bincount().min().item<std::int64_t>(), 1000);  // 1000 of each class
  const auto first = dm::load_fashion_mnist("", dm::Split::Test, /*limit=*/16);
  EXPECT_EQ(first.images.size(0), 16);
  EXPECT_TRUE(tensors_close("first 16 images", first.images, ds.images.slice(0, 0, 16), 0, 0));
}

// ------------------------------------------------------------------ toy 2-D data

TEST(GaussianMixture2D, ScoreEqualsTheFiniteDifferenceGradientOfLogProb) {
  // Central differences in float64: error ~ h^2/6 |f'''| + eps |f| / h. With s = 0.3,
  // |f'''| is at most ~|x - mu|^3 / s^6 + ... ~ 1e4 for the points below (within ~3 of a mean),
  // so h = 1e-5 gives ~2e-7 truncation and ~1e-9 rounding (|log p| < 1e2): atol 1e-5 is ample.
  const auto x = (dm::testing::fixed_normal({64, 2}, 7) * 3.0).to(torch::kDouble);
  for (double ab : {1.0, 0.3}) {
    const auto gm = dm::GaussianMixture2D::ring8().noised(ab);
    const double h = 1e-5;
    auto fd = torch::zeros_like(x);
    for (int d = 0; d < 2; ++d) {
      auto e = torch::zeros_like(x);
      e.select(1, d).fill_(h);
      fd.select(1, d).copy_((gm.log_prob(x + e) - gm.log_prob(x - e)) / (2 * h));
    }
    EXPECT_TRUE(tensors_close("score at alpha_bar " + std::to_string(ab), gm.score(x), fd, 1e-5, 1e-6));
  }
}

TEST(GaussianMixture2D, LogProbIsANormalisedDensity) {
  // A Riemann sum over [-8, 8]^2 with cell 0.02 (s = 0.3 is 15 cells: the sum is accurate to ~1e-6).
  const auto g = torch::arange(-8.0, 8.0, 0.02, torch::kDouble) + 0.01;
  const auto grid = torch::stack(torch::meshgrid({g, g}, "ij"), -1).view({-1, 2});
  const double mass = dm::GaussianMixture2D::ring8().log_prob(grid).exp().sum().item<double>() * 0.02 * 0.02;
  EXPECT_NEAR(mass, 1.0, 1e-4);
}

TEST(GaussianMixture2D, NoisedAtOneIsTheOriginalAndAtZeroIsStandardNormal) {
  const auto gm = dm::GaussianMixture2D::ring8();
  const auto same = gm.noised(1.0);
  EXPECT_TRUE(tensors_close("weights", same.weights, gm.weights, 1e-15, 0));
  EXPECT_TRUE(tensors_close("means", same.means, gm.means, 1e-15, 0));
  EXPECT_TRUE(tensors_close("stds", same.stds, gm.stds, 1e-15, 0));
  const auto noise = gm.noised(0.0);
  EXPECT_TRUE(tensors_close("means at alpha_bar 0", noise.means, torch::zeros_like(gm.means), 1e-15, 0));
  EXPECT_TRUE(tensors_close("stds at alpha_bar 0", noise.stds, torch::ones_like(gm.stds), 1e-15, 0));
  // Its samples look like N(0, I).
  const std::int64_t n = 100000;
  const auto x = noise.sample(n, seeded(3)).to(torch::kDouble);
  for (int d = 0; d < 2; ++d) {
    EXPECT_NEAR(x.select(1, d).mean().item<double>(), 0.0, mc_tol(1.0, n));
    // Var of a sample variance of N(0,1): 2 / n.
    EXPECT_NEAR(x.select(1, d).var().item<double>(), 1.0, mc_tol(std::sqrt(2.0), n));
  }
}

TEST(GaussianMixture2D, SampleMomentsMatchWeightsAndMeans) {
  const auto gm = dm::GaussianMixture2D::ring8();
  EXPECT_NEAR(gm.weights.sum().item<double>(), 1.0, 1e-12);
  EXPECT_GT((gm.weights.max() - gm.weights.min()).item<double>(), 0.1) << "ring8's weights should be unequal";
  const std::int64_t n = 200000;
  const auto x = gm.sample(n, seeded(11));
  ASSERT_EQ(x.sizes(), torch::IntArrayRef({n, 2}));
  EXPECT_EQ(x.scalar_type(), torch::kFloat);
  // Assign each sample to the nearest mean: neighbouring means are 3.06 apart = 5.1 s from the
  // midpoint, so misassignments (~1e-7) are far below the tolerances.
  const auto x64 = x.to(torch::kDouble);
  const auto k = torch::cdist(x64, gm.means).argmin(1);
  for (int c = 0; c < 8; ++c) {
    const double w = gm.weights[c].item<double>();
    const auto in = x64.index({k == c});
    const auto nk = in.size(0);
    EXPECT_NEAR(double(nk) / n, w, mc_tol(std::sqrt(w * (1 - w)), n)) << "weight of component " << c;
    for (int d = 0; d < 2; ++d)
      EXPECT_NEAR(in.select(1, d).mean().item<double>(), gm.means[c][d].item<double>(), mc_tol(0.3, nk))
          << "mean of component " << c << ", coordinate " << d;
  }
}

TEST(GaussianMixture2D, SameGeneratorSeedGivesTheSameSamples) {
  const auto gm = dm::GaussianMixture2D::ring8();
  EXPECT_TRUE(torch::equal(gm.sample(100, seeded(5)), gm.sample(100, seeded(5))));
  EXPECT_FALSE(torch::equal(gm.sample(100, seeded(5)), gm.sample(100, seeded(6))));
  EXPECT_EQ(gm.sample(10).size(0), 10);  // the default generator
}

TEST(ToyData, ShapesAndRangesAreAsDocumented) {
  const std::int64_t n = 5000;
  for (const auto& [name, x] :
       std::vector<std::pair<std::string, torch::Tensor>>{{"two_moons", dm::two_moons(n, 0.05, seeded(1))},
                                                          {"swiss_roll", dm::swiss_roll(n, 0.1, seeded(2))},
                                                          {"checkerboard", dm::checkerboard(n, seeded(3))}}) {
    ASSERT_EQ(x.sizes(), torch::IntArrayRef({n, 2})) << name;
    EXPECT_EQ(x.scalar_type(), torch::kFloat) << name;
    EXPECT_LT(x.abs().max().item<double>(), 4.6) << name << " should lie in about [-4, 4]^2";
    EXPECT_GT(x.abs().max().item<double>(), 3.0) << name << " should fill about [-4, 4]^2";
  }
  // Checkerboard: every point in a square (i, j) of side 2 with i + j even.
  const auto c = dm::checkerboard(n, seeded(4));
  const auto cell = ((c + 4.0) / 2.0).floor().to(torch::kLong);  // [n, 2] column, row
  EXPECT_EQ((cell.sum(1).remainder(2) != 0).sum().item<std::int64_t>(), 0);
  EXPECT_TRUE(torch::equal(dm::two_moons(50, 0.05, seeded(9)), dm::two_moons(50, 0.05, seeded(9))));
}
