// The course library's U-Net and checkpoints (dm/nn): ungraded, not tied to an exercise.
// Shapes and the zero-initialised output, the config's JSON round trip and validation, checkpoints
// (round trip, a truncated file, another architecture: clear dm::UserErrors), and resumption: a few
// training steps in one go end with bit-identical weights to the same steps split by save + load.
// Run one test: build/default/bin/test_03_solutions --gtest_filter='Checkpoint.*'
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "dm/errors.hpp"
#include "dm/io/sha256.hpp"
#include "dm/io/tensor_file.hpp"
#include "dm/nn/checkpoint.hpp"
#include "dm/nn/unet.hpp"
#include "testing.hpp"

namespace fs = std::filesystem;
using dm::nn::UNet;
using dm::nn::UNetConfig;

namespace {

UNetConfig tiny() {
  UNetConfig c;
  c.base_width = 8;
  c.groups = 4;
  c.channel_mults = {1, 2, 2};
  c.res_blocks_per_level = 1;
  return c;
}

fs::path tmp_dir() {
  auto d = fs::temp_directory_path() / ("dm_test_03_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

// Any fixed function of t conditions the library's U-Net in these tests (the chapter's is exercise 03.1).
dm::nn::TimestepEmbedding test_embedding() {
  return [](const torch::Tensor& t, std::int64_t dim) {
    auto k = torch::arange(dim, torch::TensorOptions().dtype(torch::kFloat32).device(t.device()));
    return torch::sin(t.to(torch::kFloat32).unsqueeze(1) * 0.01 * (k + 1));  // [B, dim]
  };
}

UNet make_unet(const UNetConfig& c) { return UNet(c, test_embedding()); }

bool same_weights(const torch::nn::Module& a, const torch::nn::Module& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  for (const auto& kv : pa)
    if (!torch::equal(kv.value(), pb[kv.key()])) return false;
  return true;
}

// One training step of L_simple, everything drawn from torch's global CPU generator.
void train_steps(UNet& model, UNet& ema, torch::optim::AdamW& opt, const torch::Tensor& data, std::int64_t from,
                 std::int64_t to) {
  auto ab = torch::cumprod(1 - torch::linspace(1e-4, 0.02, 1000, torch::kFloat64), 0);
  for (std::int64_t step = from; step < to; ++step) {
    auto idx = torch::randint(data.size(0), {4}, torch::kLong);
    auto x0 = data.index_select(0, idx);
    auto t = torch::randint(1000, {4}, torch::kLong);
    auto eps = torch::randn_like(x0);
    auto a = ab.index_select(0, t).view({-1, 1, 1, 1}).to(torch::kFloat32);
    auto loss = (eps - model->forward(a.sqrt() * x0 + (1 - a).sqrt() * eps, t)).pow(2).mean();
    opt.zero_grad();
    loss.backward();
    torch::nn::utils::clip_grad_norm_(model->parameters(), 1.0);
    opt.step();
    torch::NoGradGuard no_grad;  // a plain EMA of fixed decay (the chapter's, with warmup, is exercise 03.4)
    auto e = ema->parameters(), p = model->parameters();
    for (std::size_t i = 0; i < e.size(); ++i) e[i].mul_(0.99).add_(p[i].detach(), 0.01);
  }
}

}  // namespace

TEST(UNetLibrary, ForwardKeepsTheShapeAndStartsAtZero) {
  UNet net = make_unet(tiny());
  auto x = dm::testing::fixed_normal({2, 1, 28, 28}, 1);
  auto y = net->forward(x, torch::tensor({0, 999}, torch::kLong));
  EXPECT_EQ(y.sizes(), x.sizes());
  EXPECT_EQ(y.abs().max().item<double>(), 0.0) << "conv_out is zero-initialised";
  EXPECT_GT(net->num_parameters(), 10000);
}

TEST(UNetLibrary, ConfigRoundTripsThroughJsonAndValidates) {
  auto c = tiny();
  c.attention_resolutions = {7, 14};
  c.dropout = 0.1;
  EXPECT_EQ(UNetConfig::from_json(c.to_json()), c);
  auto bad = tiny();
  bad.channel_mults = {1, 2, 2, 2};  // 28 -> 14 -> 7 -> 3.5
  EXPECT_THROW(bad.validate(), dm::UsageError);
  bad = tiny();
  bad.base_width = 10;  // not divisible by 4 groups
  EXPECT_THROW(bad.validate(), dm::UsageError);
}

TEST(Checkpoint, RoundTripRestoresWeightsStepMetaAndRng) {
  const auto dir = tmp_dir();
  torch::manual_seed(3);
  UNet model = make_unet(tiny()), ema = make_unet(tiny());
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-3));
  auto data = dm::testing::fixed_normal({8, 1, 28, 28}, 2).clamp(-1, 1);
  train_steps(model, ema, opt, data, 0, 2);
  dm::nn::TrainingState st{model, ema, &opt, 2, {{"schedule", "linear"}, {"T", 1000}}};
  dm::nn::save_checkpoint(dir / "a.pt", st);
  auto after = torch::rand({3});

  torch::manual_seed(99);
  UNet m2 = make_unet(tiny()), e2 = make_unet(tiny());
  torch::optim::AdamW o2(m2->parameters(), torch::optim::AdamWOptions(1e-3));
  dm::nn::TrainingState st2{m2, e2, &o2, 0, {}};
  dm::nn::load_checkpoint(dir / "a.pt", st2);
  EXPECT_TRUE(same_weights(*model, *m2));
  EXPECT_TRUE(same_weights(*ema, *e2));
  EXPECT_EQ(st2.step, 2);
  EXPECT_EQ(st2.meta.at("schedule"), "linear");
  EXPECT_TRUE(torch::equal(torch::rand({3}), after)) << "the generator state is restored";

  auto loaded = dm::nn::load_model(dir / "a.pt", torch::kCPU, test_embedding());
  EXPECT_TRUE(same_weights(*ema, *loaded.model)) << "load_model gives the EMA weights";
  EXPECT_EQ(loaded.config, tiny());
  EXPECT_EQ(loaded.meta.at("T"), 1000);
  fs::remove_all(dir);
}

TEST(Checkpoint, TruncatedOrMissingFileIsAClearUserError) {
  const auto dir = tmp_dir();
  UNet model = make_unet(tiny()), ema = make_unet(tiny());
  dm::nn::save_checkpoint(dir / "b.pt", {model, ema, nullptr, 0, {}});
  const auto size = fs::file_size(dir / "b.pt");
  fs::resize_file(dir / "b.pt", size / 2);
  try {
    dm::nn::load_model(dir / "b.pt", torch::kCPU, test_embedding());
    FAIL() << "a truncated checkpoint must not load";
  } catch (const dm::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
  std::ofstream(dir / "c.pt") << "not a checkpoint";
  EXPECT_THROW(dm::nn::load_model(dir / "c.pt", torch::kCPU, test_embedding()), dm::UserError);
  EXPECT_THROW(dm::nn::load_model(dir / "missing.pt", torch::kCPU, test_embedding()), dm::UserError);
  fs::remove_all(dir);
}

TEST(Checkpoint, AnotherArchitectureIsAClearUserError) {
  const auto dir = tmp_dir();
  auto wide = tiny();
  wide.base_width = 16;
  UNet model = make_unet(wide), ema = make_unet(wide);
  dm::nn::save_checkpoint(dir / "d.pt", {model, ema, nullptr, 5, {}});
  UNet m2 = make_unet(tiny()), e2 = make_unet(tiny());
  dm::nn::TrainingState st{m2, e2, nullptr, 0, {}};
  try {
    dm::nn::load_checkpoint(dir / "d.pt", st);
    FAIL() << "a checkpoint of another width must not load";
  } catch (const dm::UserError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("base_width 16 (checkpoint) vs 8 (this run): pass --width 16"), std::string::npos) << msg;
  }
  fs::remove_all(dir);
}

TEST(ModelFile, RoundTripsTheWeightsConfigAndMetaInFloat32AndFloat16) {
  const auto dir = tmp_dir();
  auto c = tiny();
  torch::manual_seed(3);
  auto m = make_unet(c);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : m->parameters()) p.normal_(0, 0.05);  // the output layer starts at zero: make it not
  }
  dm::nn::save_model_file(dir / "m.dmt", m, c, {{"T", 1000}, {"schedule", "linear"}});
  auto loaded =
      dm::nn::load_model_file(dir / "m.dmt", torch::kCPU, test_embedding(), dm::io::sha256_file(dir / "m.dmt"));
  EXPECT_TRUE(same_weights(*m, *loaded.model)) << "float32 weights load bit for bit";
  EXPECT_EQ(loaded.config.to_json(), c.to_json());
  EXPECT_EQ(loaded.meta.at("T").get<std::int64_t>(), 1000);
  EXPECT_FALSE(loaded.model->is_training());
  dm::nn::save_model_file(dir / "h.dmt", m, c, nullptr, dm::io::FloatStorage::kFloat16);
  auto half = dm::nn::load_model_file(dir / "h.dmt", torch::kCPU, test_embedding());
  const auto x = torch::randn({2, 1, 28, 28});
  const auto t = torch::tensor({10, 900}, torch::kLong);
  torch::NoGradGuard no_grad;
  m->eval();
  const auto ref = m->forward(x, t);
  EXPECT_LT((half.model->forward(x, t) - ref).abs().max().item<double>(), 2e-2 * ref.abs().max().item<double>())
      << "float16 storage changes the output by more than its rounding";
  EXPECT_LT(fs::file_size(dir / "h.dmt"), fs::file_size(dir / "m.dmt") * 6 / 10);
}

TEST(ModelFile, AnotherFileAHashOrAMissingFileIsAUserErrorNamingIt) {
  const auto dir = tmp_dir();
  auto c = tiny();
  auto m = make_unet(c);
  dm::nn::save_model_file(dir / "m.dmt", m, c, nullptr);
  dm::io::save_tensors(dir / "other.dmt", {{"w", torch::zeros({2})}}, {{"kind", "something else"}});
  for (const auto& [file, sha] :
       {std::pair{dir / "m.dmt", std::string(64, 'a')}, std::pair{dir / "other.dmt", std::string{}},
        std::pair{dir / "none.dmt", std::string{}}}) {
    try {
      dm::nn::load_model_file(file, torch::kCPU, test_embedding(), sha);
      ADD_FAILURE() << file << " loaded";
    } catch (const dm::UserError& e) {
      EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
    }
  }
}

TEST(Checkpoint, ResumingGivesBitIdenticalWeights) {
  at::globalContext().setDeterministicAlgorithms(true, false);
  const auto dir = tmp_dir();
  auto data = dm::testing::fixed_normal({16, 1, 28, 28}, 5).clamp(-1, 1);
  auto fresh = [&](std::uint64_t seed, UNet& m, UNet& e) {
    torch::manual_seed(seed);
    m = make_unet(tiny());
    e = make_unet(tiny());
    dm::nn::copy_weights(*m, *e);
  };
  UNet a{nullptr}, ae{nullptr};
  fresh(7, a, ae);
  torch::optim::AdamW oa(a->parameters(), torch::optim::AdamWOptions(2e-3));
  train_steps(a, ae, oa, data, 0, 6);

  UNet b{nullptr}, be{nullptr};
  fresh(7, b, be);
  {
    torch::optim::AdamW ob(b->parameters(), torch::optim::AdamWOptions(2e-3));
    train_steps(b, be, ob, data, 0, 3);
    dm::nn::save_checkpoint(dir / "r.pt", {b, be, &ob, 3, {}});
  }
  UNet c{nullptr}, ce{nullptr};
  fresh(12345, c, ce);  // different init and generator state: everything must come from the file
  torch::optim::AdamW oc(c->parameters(), torch::optim::AdamWOptions(2e-3));
  dm::nn::TrainingState st{c, ce, &oc, 0, {}};
  dm::nn::load_checkpoint(dir / "r.pt", st);
  train_steps(c, ce, oc, data, st.step, 6);
  EXPECT_TRUE(same_weights(*a, *c)) << "model weights differ after resume";
  EXPECT_TRUE(same_weights(*ae, *ce)) << "EMA weights differ after resume";
  at::globalContext().setDeterministicAlgorithms(false, false);
  fs::remove_all(dir);
}
