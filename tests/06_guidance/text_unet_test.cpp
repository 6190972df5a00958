// The course library's text conditioning (dm/nn/unet.hpp with text_vocab > 0, dm/nn/text_conditioning.hpp,
// dm/data/captions.hpp): ungraded, not tied to an exercise. A text U-Net that takes an unconditional one's
// weights computes exactly what it did for every prompt (the cross-attention projections start at zero);
// once they differ, prompts change the output and padding does not; the attention maps have one map per
// token that sums to 1 over the tokens; the tokenizer refuses unknown words and prompts too long, naming
// the vocabulary and the limit; a model file keeps the text config.
// Run: build/default/bin/test_06_solutions --gtest_filter='TextUNet.*:Vocabulary.*'
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "dm/data/captions.hpp"
#include "dm/errors.hpp"
#include "dm/nn/checkpoint.hpp"
#include "dm/nn/unet.hpp"
#include "testing.hpp"

namespace fs = std::filesystem;
using dm::nn::UNet;
using dm::nn::UNetConfig;

namespace {

UNetConfig tiny(bool text) {
  UNetConfig c;
  c.base_width = 8;
  c.groups = 4;
  c.channel_mults = {1, 2};
  c.attention_resolutions = {14};
  if (text) {
    c.text_vocab = dm::Vocabulary::fashion_mnist().size();
    c.text_width = 16;
    c.text_layers = 1;
    c.cross_attention_resolutions = {14};
  }
  return c;
}

dm::nn::TimestepEmbedding embedding() {
  return [](const torch::Tensor& t, std::int64_t dim) {
    auto k = torch::arange(dim, torch::TensorOptions().dtype(torch::kFloat32).device(t.device()));
    return torch::sin(t.to(torch::kFloat32).unsqueeze(1) * 0.01 * (k + 1));
  };
}

// The reference attention (plain torch, no student code) so that these tests do not depend on 06.12.
dm::nn::AttentionResult attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                  const torch::Tensor& mask) {
  auto s = torch::matmul(q, k.transpose(1, 2)) / std::sqrt(double(q.size(2)));
  auto w = torch::softmax(s.masked_fill(~mask.unsqueeze(1), -INFINITY), -1);
  return {torch::matmul(w, v), w};
}

void randomise(UNet& m, std::uint64_t seed, bool projections_too) {
  torch::NoGradGuard no_grad;
  std::uint64_t k = seed;
  for (auto& kv : m->named_parameters()) {
    const bool proj = kv.key().rfind("cross.", 0) == 0 && kv.key().find(".proj.") != std::string::npos;
    if (proj && !projections_too) continue;
    kv.value().copy_(dm::testing::fixed_normal(kv.value().sizes().vec(), ++k) * 0.1);
  }
}

}  // namespace

TEST(TextUNet, StartsAsTheUnconditionalModelForEveryPrompt) {
  UNet base(tiny(false), embedding());
  randomise(base, 10, true);
  UNet text(tiny(true), embedding());
  text->set_attention(attention);
  const auto fresh = dm::nn::copy_shared_weights(*base, *text);
  ASSERT_FALSE(fresh.empty());
  for (const auto& name : fresh)
    EXPECT_TRUE(name.rfind("text_encoder.", 0) == 0 || name.rfind("cross.", 0) == 0) << name << " should not be new";
  base->eval();
  text->eval();
  const auto vocab = dm::Vocabulary::fashion_mnist();
  const auto tk = vocab.encode({"a small dark ankle boot", "", "a bag", "a light sandal"});
  const auto x = dm::testing::fixed_normal({4, 1, 28, 28}, 20);
  const auto t = torch::tensor({0, 300, 600, 999}, torch::kLong);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(text->forward_text(x, t, tk.ids, tk.mask), base->forward(x, t), 0, 0))
      << "the cross-attention output projections start at zero: the prompt adds nothing yet";
}

TEST(TextUNet, PromptsMatterAndPaddingDoesNot) {
  UNet text(tiny(true), embedding());
  text->set_attention(attention);
  randomise(text, 30, true);
  text->eval();
  const auto vocab = dm::Vocabulary::fashion_mnist();
  auto tk = vocab.encode({"a dark bag", "a light bag"});
  const auto x = dm::testing::fixed_normal({1, 1, 28, 28}, 40).expand({2, 1, 28, 28}).contiguous();
  const auto t = torch::tensor({500, 500}, torch::kLong);
  torch::NoGradGuard no_grad;
  const auto out = text->forward_text(x, t, tk.ids, tk.mask);
  EXPECT_GT((out[0] - out[1]).abs().max().item<double>(), 1e-4) << "two prompts gave the same output";
  auto ids = tk.ids.clone();
  ids.masked_fill_(~tk.mask, 5);  // other tokens in the padding slots, still masked
  const auto again = text->forward_text(x, t, ids, tk.mask);
  EXPECT_TRUE(torch::allclose(out, again, 1e-5, 1e-6)) << "what sits in a masked slot changed the output";
}

TEST(TextUNet, AttentionMapsAreOnePerTokenAndSumToOne) {
  UNet text(tiny(true), embedding());
  text->set_attention(attention);
  randomise(text, 50, true);
  text->eval();
  const auto tk = dm::Vocabulary::fashion_mnist().encode({"a small coat", "a trouser"});
  torch::NoGradGuard no_grad;
  text->record_attention(true);
  text->forward_text(dm::testing::fixed_normal({2, 1, 28, 28}, 60), torch::tensor({10, 900}, torch::kLong), tk.ids,
                     tk.mask);
  const auto maps = text->attention_maps();
  ASSERT_EQ(maps.sizes(), (std::vector<std::int64_t>{2, 8, 28, 28}));
  EXPECT_TRUE(torch::allclose(maps.sum(1), torch::ones({2, 28, 28}), 1e-4, 1e-5)) << "weights over tokens sum to 1";
  EXPECT_EQ(maps[1].slice(0, 3, 8).abs().max().item<double>(), 0.0) << "padding got attention";
}

TEST(TextUNet, RefusesWrongInputsAndKeepsItsConfigInAModelFile) {
  UNet text(tiny(true), embedding());
  text->set_attention(attention);
  const auto x = torch::zeros({1, 1, 28, 28});
  const auto t = torch::zeros({1}, torch::kLong);
  EXPECT_THROW(text->forward(x, t), std::logic_error);
  EXPECT_THROW(text->forward_text(x, t, torch::zeros({1, 5}, torch::kLong), torch::ones({1, 5}, torch::kBool)),
               c10::Error);
  auto bad = torch::full({1, 8}, 99, torch::kLong);
  EXPECT_THROW(text->forward_text(x, t, bad, torch::ones({1, 8}, torch::kBool)), c10::Error);
  UNetConfig both = tiny(true);
  both.num_classes = 10;
  EXPECT_THROW(both.validate(), dm::UsageError);
  const auto dir = fs::temp_directory_path() / "dm_text_unet_test";
  fs::create_directories(dir);
  dm::nn::save_model_file(dir / "m.dmt", text, tiny(true), {{"step", 1}, {"schedule", "linear"}, {"T", 1000}});
  const auto loaded = dm::nn::load_model_file(dir / "m.dmt", torch::kCPU, embedding());
  EXPECT_EQ(loaded.config, tiny(true));
  EXPECT_EQ(loaded.config.text_vocab, tiny(true).text_vocab);
  fs::remove_all(dir);
}

TEST(Vocabulary, EncodesWithStartAndPaddingAndRefusesWhatItCannot) {
  const auto v = dm::Vocabulary::fashion_mnist();
  EXPECT_EQ(v.size(), 18);
  const auto tk = v.encode({"A Small  dark ankle boot", ""});
  EXPECT_EQ(tk.ids[0][0].item<std::int64_t>(), v.start_id());
  EXPECT_EQ(tk.mask[0].sum().item<std::int64_t>(), 6);
  EXPECT_EQ(tk.mask[1].sum().item<std::int64_t>(), 1) << "the empty prompt keeps <start>";
  EXPECT_EQ(tk.ids[1][1].item<std::int64_t>(), v.pad_id());
  try {
    v.encode({"a purple sandal"});
    FAIL() << "an unknown word was accepted";
  } catch (const dm::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("purple"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("ankle, boot"), std::string::npos) << "the vocabulary is listed";
  }
  try {
    v.encode({"a a a a a a a a"});
    FAIL() << "a prompt longer than the context was accepted";
  } catch (const dm::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("context is 8 tokens"), std::string::npos) << e.what();
  }
  EXPECT_EQ(dm::fashion_mnist_caption(9, 0, 1), "a large dark ankle boot");
  EXPECT_EQ(dm::fashion_mnist_caption(8, -1, -1), "a bag");
}
