// The course library's class-conditional U-Net (dm/nn/unet.hpp, num_classes > 0): ungraded, not tied
// to an exercise. A conditional U-Net that takes an unconditional one's weights computes exactly what
// it did for every label (the label rows start at zero); once the rows differ, so do the labels'
// outputs; forward without labels, an id outside 0..K, or labels on an unconditional U-Net are errors;
// a model file keeps num_classes; copying weights the other way round names the tensor that does not fit.
// Run: build/default/bin/test_06_solutions --gtest_filter='ConditionalUNet.*'
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "dm/errors.hpp"
#include "dm/nn/checkpoint.hpp"
#include "dm/nn/unet.hpp"
#include "testing.hpp"

namespace fs = std::filesystem;
using dm::nn::UNet;
using dm::nn::UNetConfig;

namespace {

UNetConfig tiny(std::int64_t classes) {
  UNetConfig c;
  c.base_width = 8;
  c.groups = 4;
  c.channel_mults = {1, 2};
  c.num_classes = classes;
  return c;
}

dm::nn::TimestepEmbedding embedding() {
  return [](const torch::Tensor& t, std::int64_t dim) {
    auto k = torch::arange(dim, torch::TensorOptions().dtype(torch::kFloat32).device(t.device()));
    return torch::sin(t.to(torch::kFloat32).unsqueeze(1) * 0.01 * (k + 1));
  };
}

UNet randomised(const UNetConfig& c, std::uint64_t seed) {
  UNet m(c, embedding());
  torch::NoGradGuard no_grad;
  auto params = m->named_parameters();
  std::uint64_t k = seed;
  for (auto& kv : params)
    if (kv.key() != "label_embed.weight")
      kv.value().copy_(dm::testing::fixed_normal(kv.value().sizes().vec(), ++k) * 0.1);
  m->eval();
  return m;
}

}  // namespace

TEST(ConditionalUNet, StartsAsTheUnconditionalModelForEveryLabel) {
  auto base = randomised(tiny(0), 10);
  UNet cond(tiny(10), embedding());
  const auto fresh = dm::nn::copy_shared_weights(*base, *cond);
  ASSERT_EQ(fresh, std::vector<std::string>{"label_embed.weight"}) << "only the label table is new";
  cond->eval();
  const auto x = dm::testing::fixed_normal({11, 1, 28, 28}, 20);
  const auto t = torch::arange(11, torch::kLong) * 90;
  torch::NoGradGuard no_grad;
  const auto want = base->forward(x, t);
  EXPECT_GT(want.abs().max().item<double>(), 0.0);
  EXPECT_TRUE(torch::equal(cond->forward(x, t, torch::arange(11, torch::kLong)), want))
      << "labels 0..9 and 'no label' (10) all give the unconditional output while the rows are zero";
}

TEST(ConditionalUNet, LabelsMatterOnceTheirRowsDiffer) {
  auto cond = randomised(tiny(10), 30);
  {
    torch::NoGradGuard no_grad;
    cond->named_parameters()["label_embed.weight"].copy_(dm::testing::fixed_normal({11, 32}, 31));
  }
  const auto x = dm::testing::fixed_normal({1, 1, 28, 28}, 32).expand({3, 1, 28, 28}).contiguous();
  const auto t = torch::full({3}, 500, torch::kLong);
  torch::NoGradGuard no_grad;
  const auto out = cond->forward(x, t, torch::tensor({0, 7, 10}, torch::kLong));
  EXPECT_FALSE(torch::allclose(out[0], out[1])) << "class 0 and class 7";
  EXPECT_FALSE(torch::allclose(out[0], out[2])) << "class 0 and 'no label'";
}

TEST(ConditionalUNet, MissingOrOutOfRangeLabelsAreErrors) {
  auto cond = randomised(tiny(10), 40);
  auto base = randomised(tiny(0), 41);
  const auto x = torch::zeros({2, 1, 28, 28});
  const auto t = torch::tensor({1, 2}, torch::kLong);
  EXPECT_THROW(cond->forward(x, t), std::logic_error) << "a conditional U-Net needs its labels";
  EXPECT_THROW(cond->forward(x, t, torch::tensor({0, 11}, torch::kLong)), c10::Error) << "ids are 0..K";
  EXPECT_THROW(cond->forward(x, t, torch::tensor({-1, 0}, torch::kLong)), c10::Error);
  EXPECT_THROW(base->forward(x, t, torch::tensor({0, 1}, torch::kLong)), c10::Error) << "unconditional: no labels";
  EXPECT_NO_THROW(cond->forward(x, t, torch::tensor({0, 10}, torch::kLong)));
}

TEST(ConditionalUNet, AModelFileKeepsItsClassesAndWeights) {
  const auto dir = fs::temp_directory_path() / ("dm_test_06_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto c = tiny(10);
  auto cond = randomised(c, 50);
  dm::nn::save_model_file(dir / "c.dmt", cond, c, {{"T", 1000}, {"p_uncond", 0.1}});
  auto loaded = dm::nn::load_model_file(dir / "c.dmt", torch::kCPU, embedding());
  EXPECT_EQ(loaded.config.num_classes, 10);
  EXPECT_EQ(loaded.config.to_json().at("num_classes"), 10);
  EXPECT_FALSE(tiny(0).to_json().contains("num_classes")) << "unconditional configs stay as chapter 03 wrote them";
  const auto x = dm::testing::fixed_normal({2, 1, 28, 28}, 51);
  const auto t = torch::tensor({3, 700}, torch::kLong), y = torch::tensor({4, 10}, torch::kLong);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(loaded.model->forward(x, t, y), cond->forward(x, t, y)));
  fs::remove_all(dir);
}

TEST(ConditionalUNet, CopyingIntoASmallerModelNamesWhatDoesNotFit) {
  auto cond = randomised(tiny(10), 60);
  UNet base(tiny(0), embedding());
  try {
    dm::nn::copy_shared_weights(*cond, *base);
    FAIL() << "the label table has nowhere to go";
  } catch (const dm::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("label_embed.weight"), std::string::npos) << e.what();
  }
  UNet other(tiny(5), embedding());
  EXPECT_THROW(dm::nn::copy_shared_weights(*cond, *other), dm::UserError) << "11 rows do not fit in 6";
}
