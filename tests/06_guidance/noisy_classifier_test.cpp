// The course library's noise-aware classifier (dm/nn/noisy_classifier.hpp): ungraded, not tied to an
// exercise. Its logits have the documented shape and depend on the timestep; a sample's logits (and so
// its gradient in 06.7) do not depend on the rest of its batch (GroupNorm, not BatchNorm); a model file
// gives back the same classifier; a file of another kind, a missing file and a bad config are refused
// with errors that name them.
// Run: build/default/bin/test_06_solutions --gtest_filter='NoisyClassifier.*'
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>

#include "dm/errors.hpp"
#include "dm/nn/checkpoint.hpp"
#include "dm/nn/noisy_classifier.hpp"
#include "dm/nn/unet.hpp"
#include "testing.hpp"

namespace fs = std::filesystem;
using dm::nn::NoisyClassifier;
using dm::nn::NoisyClassifierConfig;

namespace {

dm::nn::TimestepEmbedding embedding() {
  return [](const torch::Tensor& t, std::int64_t dim) {
    auto k = torch::arange(dim, torch::TensorOptions().dtype(torch::kFloat32).device(t.device()));
    return torch::sin(t.to(torch::kFloat32).unsqueeze(1) * 0.01 * (k + 1));
  };
}

NoisyClassifier seeded(std::uint64_t seed) {
  torch::manual_seed(seed);
  NoisyClassifier m(NoisyClassifierConfig{}, embedding());
  m->eval();
  return m;
}

fs::path temp_dir() {
  const auto dir = fs::temp_directory_path() / ("dm_test_06_clf_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

}  // namespace

TEST(NoisyClassifier, GivesOneLogitPerClassAndReadsTheTimestep) {
  auto clf = seeded(1);
  const auto x = dm::testing::fixed_normal({3, 1, 28, 28}, 61);
  torch::NoGradGuard no_grad;
  const auto a = clf->forward(x, torch::tensor({0, 0, 0}, torch::kLong));
  EXPECT_EQ(a.sizes(), (std::vector<std::int64_t>{3, 10}));
  const auto b = clf->forward(x, torch::tensor({900, 900, 900}, torch::kLong));
  EXPECT_FALSE(torch::allclose(a, b)) << "the same images at t = 0 and t = 900 got the same logits";
  EXPECT_THROW(clf->forward(x, torch::tensor({0, 0}, torch::kLong)), c10::Error) << "t must have one entry per image";
  EXPECT_THROW(clf->forward(x.view({3, 28, 28}), torch::tensor({0, 0, 0}, torch::kLong)), c10::Error);
}

TEST(NoisyClassifier, ASamplesLogitsIgnoreTheRestOfTheBatch) {
  auto clf = seeded(2);
  clf->train();  // training mode too: no batch statistics anywhere
  auto x = dm::testing::fixed_normal({4, 1, 28, 28}, 62);
  const auto t = torch::tensor({10, 300, 600, 999}, torch::kLong);
  torch::NoGradGuard no_grad;
  const auto before = clf->forward(x, t);
  auto changed = x.clone();
  changed.slice(0, 1, 4).mul_(3).add_(1);
  const auto after = clf->forward(changed, t);
  EXPECT_TRUE(torch::allclose(before[0], after[0], 1e-5, 1e-6)) << "sample 0's logits moved when the others changed";
  EXPECT_TRUE(torch::allclose(clf->forward(x.slice(0, 0, 1), t.slice(0, 0, 1))[0], before[0], 1e-5, 1e-6))
      << "sample 0 alone and in a batch of 4 got different logits";
}

TEST(NoisyClassifier, AModelFileGivesBackTheSameClassifier) {
  const auto dir = temp_dir();
  auto clf = seeded(3);
  dm::nn::save_noisy_classifier(dir / "c.dmt", clf, {{"T", 1000}, {"steps", 7}});
  auto loaded = dm::nn::load_noisy_classifier(dir / "c.dmt", torch::kCPU, embedding());
  EXPECT_EQ(loaded.meta.value("steps", 0), 7);
  EXPECT_EQ(loaded.meta.value("kind", std::string{}), "noisy_classifier");
  const auto x = dm::testing::fixed_normal({2, 1, 28, 28}, 63);
  const auto t = torch::tensor({5, 800}, torch::kLong);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(loaded.model->forward(x, t), clf->forward(x, t)));
  fs::remove_all(dir);
}

TEST(NoisyClassifier, RefusesAnotherKindOfFileAMissingFileAndABadConfig) {
  const auto dir = temp_dir();
  dm::nn::UNetConfig c;
  c.base_width = 8;
  c.groups = 4;
  c.channel_mults = {1, 2};
  dm::nn::UNet unet(c, embedding());
  dm::nn::save_model_file(dir / "unet.dmt", unet, c, {{"T", 1000}});
  try {
    dm::nn::load_noisy_classifier(dir / "unet.dmt", torch::kCPU, embedding());
    FAIL() << "a U-Net file was loaded as a classifier";
  } catch (const dm::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("not a version-1 noise-aware classifier"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("unet.dmt"), std::string::npos) << e.what();
  }
  try {
    dm::nn::load_noisy_classifier(dir / "none.dmt", torch::kCPU, embedding());
    FAIL() << "a missing file was loaded";
  } catch (const dm::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("none.dmt"), std::string::npos) << e.what();
  }
  NoisyClassifierConfig bad;
  bad.width = 12;  // not a multiple of 8 groups
  EXPECT_THROW(NoisyClassifier(bad, embedding()), dm::UsageError);
  EXPECT_THROW(NoisyClassifier(NoisyClassifierConfig{}, nullptr), dm::UsageError) << "no timestep embedding";
  fs::remove_all(dir);
}
