// The course's tensor files (dm/io/tensor_file.hpp).
// Checks the round trip of every stored dtype (0-d, empty and transposed tensors included), of 16-bit
// storage within its precision and of meta; a module
// (Linear + BatchNorm, buffers included) saved and loaded into a fresh one computing the same outputs,
// and two modules kept in one file under prefixes ("model.", "ema.") and loaded one at a time;
// the hash check and the architecture checks, each failing with the names and shapes involved and
// leaving the module untouched; every malformed file (wrong magic, truncation, a header length past the
// end, bad JSON, an offset outside the data, an unknown dtype, a wrong nbytes ...) as a dm::UserError
// naming the file and the problem; a file written by hand from the documented layout loading; and a
// fixed file's sha256 pinned, so that any change of the bytes written is noticed (bump the version).
// Run them: build/default/bin/test_common --gtest_filter='TensorFile.*'
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "dm/errors.hpp"
#include "dm/io/sha256.hpp"
#include "dm/io/tensor_file.hpp"
#include "temp_dir.hpp"
#include "testing.hpp"

using ::testing::HasSubstr;
namespace fs = std::filesystem;
using dm::io::FloatStorage;

namespace {

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void put_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

// A file built from the layout documented in tensor_file.hpp, independently of the writer: magic,
// u32 version, u32 reserved, u64 H, the header padded with spaces to a multiple of 64, the data.
std::string hand_made(const std::string& header, const std::string& data, std::uint32_t version = 1) {
  std::string h = header;
  while ((24 + h.size()) % 64 != 0) h += ' ';
  std::string out = "DMTENSOR";
  put_le(out, version, 4);
  put_le(out, 0, 4);
  put_le(out, h.size(), 8);
  return out + h + data;
}

// The UserError's message, or a failure when `f` does not throw one.
std::string user_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const dm::UserError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no dm::UserError thrown";
  return "";
}

void expect_equal_tensors(const torch::Tensor& a, const torch::Tensor& b, const std::string& what) {
  EXPECT_EQ(a.scalar_type(), b.scalar_type()) << what;
  EXPECT_EQ(a.sizes(), b.sizes()) << what;
  EXPECT_TRUE(a.is_contiguous()) << what;
  if (a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type()) {
    EXPECT_TRUE(torch::equal(a, b)) << what;
  }
}

struct NetImpl : torch::nn::Module {
  NetImpl(int in, int hidden) {
    fc = register_module("fc", torch::nn::Linear(in, hidden));
    bn = register_module("bn", torch::nn::BatchNorm1d(hidden));
    head = register_module("head", torch::nn::Linear(torch::nn::LinearOptions(hidden, 2).bias(false)));
  }
  torch::Tensor forward(const torch::Tensor& x) { return head(torch::relu(bn(fc(x)))); }
  torch::nn::Linear fc{nullptr}, head{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};
};
TORCH_MODULE(Net);

// A net whose every parameter and buffer differs from a fresh one's: seeded weights, running statistics
// from a few training-mode passes.
Net trained_net() {
  Net net(4, 8);
  torch::NoGradGuard no_grad;
  std::uint64_t seed = 1;
  for (auto& p : net->parameters()) p.copy_(dm::testing::fixed_normal(p.sizes().vec(), seed++));
  net->train();
  for (int i = 0; i < 3; ++i) net->forward(dm::testing::fixed_normal({16, 4}, 100 + i));
  net->eval();
  return net;
}

}  // namespace

TEST(TensorFile, RoundTripsEveryDtypeZeroDimEmptyAndTransposedTensors) {
  dm::testing::TempDir dir("tf_dtypes");
  const auto x = dm::testing::fixed_normal({3, 5}, 7);
  const dm::io::NamedTensors in = {
      {"float32", x},
      {"float16", x.to(torch::kFloat16)},
      {"bfloat16", x.to(torch::kBFloat16)},
      {"float64", x.to(torch::kFloat64) * 1e200},
      {"int64", torch::tensor({std::int64_t{1} << 62, std::int64_t{-3}, std::int64_t{0}})},
      {"int32", torch::arange(-6, 6, torch::kInt32).reshape({2, 2, 3})},
      {"int16", torch::tensor({-32768, 32767}, torch::kInt16)},
      {"int8", torch::tensor({-128, 127}, torch::kInt8)},
      {"uint8", torch::arange(0, 256, torch::kInt64).to(torch::kUInt8)},
      {"bool", x > 0},
      {"scalar", torch::tensor(2.5)},                                    // 0-d
      {"empty", torch::zeros({0, 4})},                                   // no bytes
      {"transposed", x.t()},                                             // a non-contiguous view
      {"strided", torch::arange(20, torch::kInt64).slice(0, 1, 20, 3)},  // a step of 3
      {"requires_grad", x.clone().requires_grad_()},
  };
  dm::io::save_tensors(dir / "all.dmt", in);
  const auto out = dm::io::load_tensors(dir / "all.dmt");
  ASSERT_EQ(out.tensors.size(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out.tensors[i].first, in[i].first);  // file order is the given order
    expect_equal_tensors(out.tensors[i].second, in[i].second.detach().contiguous(), in[i].first);
  }
  EXPECT_EQ(out.at("scalar").dim(), 0);
  EXPECT_EQ(out.at("empty").sizes(), (std::vector<std::int64_t>{0, 4}));
  EXPECT_FALSE(out.at("requires_grad").requires_grad());
  EXPECT_TRUE(out.meta.is_object());
  EXPECT_THAT(user_error([&] { out.at("nope"); }), HasSubstr("'nope'"));
}

TEST(TensorFile, StoresFloatsIn16BitsWithinTheirPrecision) {
  dm::testing::TempDir dir("tf_half");
  const auto x = dm::testing::fixed_normal({64, 33}, 3) * 10;
  const auto idx = torch::arange(5);
  for (const auto storage : {FloatStorage::kFloat16, FloatStorage::kBFloat16}) {
    const bool fp16 = storage == FloatStorage::kFloat16;
    dm::io::save_tensors(dir / "h.dmt", {{"x", x}, {"x64", x.to(torch::kFloat64)}, {"idx", idx}}, {}, storage);
    const auto out = dm::io::load_tensors(dir / "h.dmt");
    const auto dtype = fp16 ? torch::kFloat16 : torch::kBFloat16;
    // Round to nearest: a relative error of at most 2^-11 (fp16, 11 significant bits) or 2^-8 (bf16, 8)
    const double rel = fp16 ? 1.0 / 2048 : 1.0 / 256;
    for (const char* name : {"x", "x64"}) {
      EXPECT_EQ(out.at(name).scalar_type(), dtype) << name;
      // (plus half of fp16's smallest subnormal step, 2^-25, and room for double rounding via float32)
      const auto x64 = x.to(torch::kFloat64);
      const auto err = (out.at(name).to(torch::kFloat64) - x64).abs();
      EXPECT_LE((err - rel * (1 + 1e-6) * x64.abs()).max().item<double>(), 3e-8) << name;
      EXPECT_GT(err.max().item<double>(), 0.0) << name << ": nothing was rounded";
    }
    expect_equal_tensors(out.at("idx"), idx, "integers are stored as they are");
    EXPECT_LT(fs::file_size(dir / "h.dmt"), 2 * 64 * 33 * 2 + 1024);  // half of float32's bytes, plus the header
  }
  // float16 ends at 65504: storing more throws rather than writing inf.
  EXPECT_THAT(user_error([&] {
                dm::io::save_tensors(dir / "big.dmt", {{"big", torch::tensor({1.0, 1e6})}}, {}, FloatStorage::kFloat16);
              }),
              HasSubstr("'big'"));
  EXPECT_FALSE(fs::exists(dir / "big.dmt"));
  dm::io::save_tensors(dir / "big.dmt", {{"big", torch::tensor({1e6})}}, {}, FloatStorage::kBFloat16);
  EXPECT_NEAR(dm::io::load_tensors(dir / "big.dmt").at("big").item<double>(), 1e6, 1e6 / 256);
}

TEST(TensorFile, RoundTripsMetaAndReadsTheHeaderAlone) {
  dm::testing::TempDir dir("tf_meta");
  const nlohmann::json meta = {{"command", "build/default/bin/solutions/03_ddpm --quick"},
                               {"commit", "7e0dcfb"},
                               {"wall_time_s", 12.5},
                               {"metrics", {{"fid", 31.1}, {"kid", nullptr}}},
                               {"config", {{"base_width", 32}, {"mults", {1, 2, 2}}}},
                               {"note", "ünïcödé ✓"}};
  dm::io::save_tensors(dir / "m.dmt", {{"w", torch::ones({2, 3})}, {"b", torch::zeros({3}, torch::kInt64)}}, meta);
  EXPECT_EQ(dm::io::load_tensors(dir / "m.dmt").meta, meta);
  const auto header = dm::io::read_tensor_header(dir / "m.dmt");
  EXPECT_EQ(header.meta, meta);
  ASSERT_EQ(header.entries.size(), 2u);
  EXPECT_EQ(header.entries[1].name, "b");
  EXPECT_EQ(header.entries[1].dtype, torch::kInt64);
  EXPECT_EQ(header.entries[1].shape, (std::vector<std::int64_t>{3}));
  EXPECT_EQ(header.entries[1].offset, 64u);  // after w's 24 bytes, aligned to 64
  EXPECT_EQ(header.entries[1].nbytes, 24u);
  EXPECT_EQ(header.data_start % 64, 0u);
  EXPECT_EQ(fs::file_size(dir / "m.dmt"), header.data_start + 64 + 24);
}

TEST(TensorFile, RejectsWhatItCannotStoreAndLeavesNoFileBehind) {
  dm::testing::TempDir dir("tf_bad_save");
  const auto t = torch::ones({2});
  const auto save = [&](const dm::io::NamedTensors& tensors, const nlohmann::json& meta) {
    dm::io::save_tensors(dir / "x.dmt", tensors, meta);
  };
  const auto obj = nlohmann::json::object();
  EXPECT_THROW(save({{"a", t}, {"a", t}}, obj), std::invalid_argument);
  EXPECT_THROW(save({{"", t}}, obj), std::invalid_argument);
  EXPECT_THROW(save({{"u", torch::Tensor()}}, obj), std::invalid_argument);
  EXPECT_THROW(save({{"c", torch::ones({2}, torch::kComplexFloat)}}, obj), std::invalid_argument);
  EXPECT_THROW(save({{"a", t}}, nlohmann::json::array()), std::invalid_argument);
  EXPECT_TRUE(fs::is_empty(dir.path()));
  EXPECT_THAT(user_error([&] {
                dm::io::save_tensors("/proc/nonexistent/x.dmt", {{"a", t}});
              }),
              HasSubstr("/proc/nonexistent/x.dmt"));
}

TEST(TensorFile, ModuleSavedAndLoadedIntoAFreshOneComputesTheSameOutputs) {
  dm::testing::TempDir dir("tf_module");
  auto net = trained_net();
  const auto x = dm::testing::fixed_normal({5, 4}, 42);
  const auto expected = net->forward(x);
  const auto names = dm::io::module_tensors(*net);
  // fc.weight fc.bias bn.weight bn.bias head.weight, then bn's running_mean running_var num_batches_tracked
  ASSERT_EQ(names.size(), 8u);
  EXPECT_EQ(names.back().first, "bn.num_batches_tracked");

  dm::io::save_module(dir / "net.dmt", *net, {{"config", {{"in", 4}, {"hidden", 8}}}});
  Net fresh(4, 8);
  fresh->eval();
  EXPECT_FALSE(torch::equal(fresh->forward(x), expected));
  const auto meta = dm::io::load_module(dir / "net.dmt", *fresh);
  EXPECT_EQ(meta["config"]["hidden"], 8);
  EXPECT_TRUE(torch::equal(fresh->forward(x), expected));
  EXPECT_EQ(fresh->bn->num_batches_tracked.item<std::int64_t>(), 3);
  EXPECT_TRUE(fresh->fc->weight.requires_grad());  // still a trainable parameter

  // float16 storage loads into the float32 module, within half precision.
  dm::io::save_module(dir / "net16.dmt", *net, {}, FloatStorage::kFloat16);
  EXPECT_EQ(dm::io::load_tensors(dir / "net16.dmt").at("fc.weight").scalar_type(), torch::kFloat16);
  EXPECT_EQ(dm::io::load_tensors(dir / "net16.dmt").at("bn.num_batches_tracked").scalar_type(), torch::kInt64);
  Net fresh16(4, 8);
  fresh16->eval();
  dm::io::load_module(dir / "net16.dmt", *fresh16);
  EXPECT_EQ(fresh16->fc->weight.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(fresh16->forward(x), expected, /*rtol=*/1e-2, /*atol=*/1e-2));
  EXPECT_FALSE(torch::equal(fresh16->forward(x), expected));
}

TEST(TensorFile, HoldsSeveralModulesUnderPrefixesAndLoadsEachAlone) {
  dm::testing::TempDir dir("tf_prefix");
  auto model = trained_net();
  Net ema(4, 8);  // a second, different set of weights
  auto tensors = dm::io::prefixed("model.", dm::io::module_tensors(*model));
  const auto ema_tensors = dm::io::prefixed("ema.", dm::io::module_tensors(*ema));
  tensors.insert(tensors.end(), ema_tensors.begin(), ema_tensors.end());
  tensors.emplace_back("step", torch::tensor(std::int64_t{1000}));
  dm::io::save_tensors(dir / "ckpt.dmt", tensors, {{"step", 1000}});

  const auto file = dm::io::load_tensors(dir / "ckpt.dmt");
  EXPECT_EQ(file.tensors.front().first, "model.fc.weight");
  Net a(4, 8), b(4, 8);
  dm::io::load_into_module(file, *a, "model.");
  dm::io::load_into_module(file, *b, "ema.");
  EXPECT_TRUE(torch::equal(a->fc->weight, model->fc->weight));
  EXPECT_TRUE(torch::equal(a->bn->running_var, model->bn->running_var));
  EXPECT_TRUE(torch::equal(b->fc->weight, ema->fc->weight));

  Net c(4, 8);
  EXPECT_THAT(user_error([&] { dm::io::load_into_module(file, *c, "emma."); }),
              HasSubstr("missing from the file (8): emma.fc.weight, emma.fc.bias"));
  EXPECT_THAT(user_error([&] { dm::io::load_module(dir / "ckpt.dmt", *c); }),
              HasSubstr("in the file but not in the model (17): model.fc.weight"));
}

TEST(TensorFile, LoadModuleChecksTheSha256AndNamesBothHashes) {
  dm::testing::TempDir dir("tf_hash");
  auto net = trained_net();
  dm::io::save_module(dir / "net.dmt", *net);
  const auto right = dm::io::sha256_file(dir / "net.dmt");
  EXPECT_EQ(right, dm::io::sha256_hex(read_bytes(dir / "net.dmt")));
  Net a(4, 8);
  EXPECT_NO_THROW(dm::io::load_module(dir / "net.dmt", *a, right));
  std::string upper = right;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_NO_THROW(dm::io::load_module(dir / "net.dmt", *a, upper));

  const std::string wrong(64, '0');
  Net b(4, 8);
  const auto before = b->fc->weight.clone();
  const auto msg = user_error([&] { dm::io::load_module(dir / "net.dmt", *b, wrong); });
  EXPECT_THAT(msg, HasSubstr((dir / "net.dmt").string()));
  EXPECT_THAT(msg, HasSubstr(right));
  EXPECT_THAT(msg, HasSubstr(wrong));
  EXPECT_TRUE(torch::equal(b->fc->weight, before)) << "a failed check changed the module";
  EXPECT_THROW(dm::io::load_module(dir / "net.dmt", *b, "abc"), std::invalid_argument);
}

TEST(TensorFile, LoadModuleListsMissingUnexpectedAndMisshapenTensorsAndChangesNothing) {
  dm::testing::TempDir dir("tf_arch");
  auto net = trained_net();
  dm::io::save_module(dir / "net.dmt", *net, {{"config", {{"hidden", 8}}}});

  Net wider(4, 16);
  const auto before = wider->fc->weight.clone();
  const auto msg = user_error([&] { dm::io::load_module(dir / "net.dmt", *wider); });
  EXPECT_THAT(msg, HasSubstr((dir / "net.dmt").string()));
  EXPECT_THAT(msg, HasSubstr("fc.weight: file [8, 4], model [16, 4]"));
  EXPECT_THAT(msg, HasSubstr("bn.running_var: file [8], model [16]"));
  EXPECT_THAT(msg, HasSubstr("\"hidden\":8"));  // the file's config, to compare with the model's
  EXPECT_TRUE(torch::equal(wider->fc->weight, before)) << "a failed check changed the module";

  struct Extra : torch::nn::Module {
    Extra() {
      register_module("fc", torch::nn::Linear(4, 8));
      register_module("out", torch::nn::Linear(8, 1));
    }
  } extra;
  const auto msg2 = user_error([&] { dm::io::load_module(dir / "net.dmt", extra); });
  EXPECT_THAT(msg2, HasSubstr("missing from the file (2): out.weight, out.bias"));
  EXPECT_THAT(msg2, HasSubstr("in the file but not in the model (6): bn.weight, bn.bias, head.weight"));

  // An integer tensor stored in a float slot (or the reverse) is not converted silently.
  dm::io::save_tensors(dir / "int.dmt", {{"w", torch::ones({2}, torch::kInt64)}});
  struct One : torch::nn::Module {
    One() { register_parameter("w", torch::zeros({2})); }
  } one;
  EXPECT_THAT(user_error([&] { dm::io::load_module(dir / "int.dmt", one); }),
              HasSubstr("dtype differs: w: file Long, model Float"));
}

TEST(TensorFile, MalformedFilesFailWithAUserErrorNamingTheProblem) {
  dm::testing::TempDir dir("tf_malformed");
  dm::io::save_tensors(dir / "good.dmt",
                       {{"w", torch::arange(6, torch::kFloat32).reshape({2, 3})}, {"b", torch::tensor({true, false})}});
  const std::string good = read_bytes(dir / "good.dmt");
  // `in_header`: read_tensor_header finds the problem too (all but a bad data byte).
  const auto check = [&](const std::string& name, const std::string& bytes, const std::string& problem,
                         bool in_header = true) {
    const auto path = dir / (name + ".dmt");
    write_bytes(path, bytes);
    const auto msg = user_error([&] { dm::io::load_tensors(path); });
    EXPECT_THAT(msg, HasSubstr(path.string())) << name;
    EXPECT_THAT(msg, HasSubstr(problem)) << name;
    if (in_header) {
      EXPECT_THAT(user_error([&] { dm::io::read_tensor_header(path); }), HasSubstr(problem)) << name;
    }
  };
  const auto tensor = [](const std::string& fields) { return R"({"meta":{},"tensors":[{)" + fields + "}]}"; };
  const std::string w24(24, '\0');

  std::string magic = good;
  magic[0] = 'X';
  check("magic", magic, "not a tensor file");
  check("zip", "PK\x03\x04" + good.substr(4), "zip archive");
  check("empty", "", "truncated");
  check("preamble", good.substr(0, 20), "truncated");
  check("data", good.substr(0, good.size() - 1), "truncated");
  check("header_cut", good.substr(0, 40), "runs past the end of the file");
  std::string long_header = good;
  long_header[16 + 5] = '\x01';  // H = 2^40 + ...
  check("header_length", long_header, "runs past the end of the file");
  std::string json = good;
  json[24] = '#';
  check("json", json, "not valid JSON");
  check("version", hand_made(tensor(R"("name":"w","dtype":"float32","shape":[6],"offset":0,"nbytes":24)"), w24, 2),
        "newer");
  check("no_tensors", hand_made(R"({"meta":{}})", ""), "no \"tensors\" list");
  check("offset", hand_made(tensor(R"("name":"w","dtype":"float32","shape":[6],"offset":1024,"nbytes":24)"), w24),
        "past the end of the file's 24 data bytes");
  check("huge_offset",
        hand_made(tensor(R"("name":"w","dtype":"float32","shape":[6],"offset":18446744073709551552,"nbytes":24)"), w24),
        "past the end");
  check("nbytes", hand_made(tensor(R"("name":"w","dtype":"float32","shape":[6],"offset":0,"nbytes":20)"), w24),
        "shape [6] of float32 (4 bytes each) but 'nbytes' 20");
  check(
      "huge_shape",
      hand_made(tensor(R"("name":"w","dtype":"float32","shape":[4294967296,4294967296],"offset":0,"nbytes":24)"), w24),
      "'nbytes' 24");
  check("dtype", hand_made(tensor(R"("name":"w","dtype":"complex64","shape":[3],"offset":0,"nbytes":24)"), w24),
        "dtype 'complex64'");
  check("negative", hand_made(tensor(R"("name":"w","dtype":"float32","shape":[-6],"offset":0,"nbytes":24)"), w24),
        "non-negative");
  check("no_name", hand_made(tensor(R"("dtype":"float32","shape":[6],"offset":0,"nbytes":24)"), w24), "'name'");
  check("misaligned", hand_made(tensor(R"("name":"w","dtype":"uint8","shape":[20],"offset":4,"nbytes":20)"), w24),
        "not a multiple of 64");
  check("trailing", hand_made(tensor(R"("name":"w","dtype":"uint8","shape":[20],"offset":0,"nbytes":20)"), w24),
        "4 bytes follow the last tensor");
  check("overlap",
        hand_made(R"({"tensors":[{"name":"a","dtype":"uint8","shape":[24],"offset":0,"nbytes":24},)"
                  R"({"name":"b","dtype":"uint8","shape":[8],"offset":0,"nbytes":8}]})",
                  w24),
        "overlap");
  check("twice",
        hand_made(R"({"tensors":[{"name":"a","dtype":"uint8","shape":[24],"offset":0,"nbytes":24},)"
                  R"({"name":"a","dtype":"uint8","shape":[0],"offset":0,"nbytes":0}]})",
                  w24),
        "appears twice");
  check("bool", hand_made(tensor(R"("name":"b","dtype":"bool","shape":[2],"offset":0,"nbytes":2)"), "\x01\x02"),
        "other than 0 and 1", /*in_header=*/false);
  check("meta", hand_made(R"({"meta":[],"tensors":[]})", ""), "\"meta\" is not a JSON object");
  EXPECT_THAT(user_error([&] { dm::io::load_tensors(dir / "absent.dmt"); }), HasSubstr("no tensor file at"));
}

TEST(TensorFile, AFileWrittenByHandFromTheDocumentedLayoutLoads) {
  dm::testing::TempDir dir("tf_layout");
  std::string data;
  for (const float f : {1.0f, -2.0f, 0.5f}) data.append(reinterpret_cast<const char*>(&f), 4);
  data.append(64 - data.size(), '\0');  // the next tensor starts at offset 64
  data.append("\x07\x00\x00\x00\x00\x00\x00\x00", 8);
  write_bytes(dir / "hand.dmt", hand_made(R"({"meta":{"by":"hand"},"tensors":[)"
                                          R"({"name":"f","dtype":"float32","shape":[3],"offset":0,"nbytes":12},)"
                                          R"({"name":"e","dtype":"float16","shape":[0,2],"offset":0,"nbytes":0},)"
                                          R"({"name":"i","dtype":"int64","shape":[],"offset":64,"nbytes":8}]})",
                                          data));
  const auto f = dm::io::load_tensors(dir / "hand.dmt");
  expect_equal_tensors(f.at("f"), torch::tensor({1.0f, -2.0f, 0.5f}), "f");
  EXPECT_EQ(f.at("e").sizes(), (std::vector<std::int64_t>{0, 2}));
  EXPECT_EQ(f.at("i").dim(), 0);
  EXPECT_EQ(f.at("i").item<std::int64_t>(), 7);
  EXPECT_EQ(f.meta["by"], "hand");
}

// The bytes the writer produces for a fixed input, pinned by their sha256: a change here is a change of
// the format (bump kTensorFileVersion and keep reading version 1) or of the writer's determinism. The
// digest was also reproduced by a Python writer of the documented layout (struct.pack, '<e' for float16).
TEST(TensorFile, AFixedFileKeepsItsBytes) {
  dm::testing::TempDir dir("tf_golden");
  const auto path = dir / "golden.dmt";
  dm::io::save_tensors(path,
                       {{"w", torch::arange(6, torch::kFloat32).reshape({2, 3}) / 4},
                        {"h", torch::tensor({0.5, -1.25}, torch::kFloat64)},
                        {"n", torch::tensor({std::int64_t{3}, std::int64_t{-1}})},
                        {"mask", torch::tensor({true, false, true})},
                        {"s", torch::tensor(7, torch::kInt32)}},
                       {{"command", "golden"}, {"step", 1}}, FloatStorage::kFloat16);
  const std::string bytes = read_bytes(path);
  ASSERT_GE(bytes.size(), 24u);
  EXPECT_EQ(bytes.substr(0, 16), std::string("DMTENSOR\x01\x00\x00\x00\x00\x00\x00\x00", 16));
  // H = 424: the header below, padded with spaces to end at byte 448 = 7 x 64.
  EXPECT_EQ(bytes.substr(16, 8), std::string("\xa8\x01\x00\x00\x00\x00\x00\x00", 8));
  const std::string header = R"({"meta":{"command":"golden","step":1},"tensors":[)"
                             R"({"dtype":"float16","name":"w","nbytes":12,"offset":0,"shape":[2,3]},)"
                             R"({"dtype":"float16","name":"h","nbytes":4,"offset":64,"shape":[2]},)"
                             R"({"dtype":"int64","name":"n","nbytes":16,"offset":128,"shape":[2]},)"
                             R"({"dtype":"bool","name":"mask","nbytes":3,"offset":192,"shape":[3]},)"
                             R"({"dtype":"int32","name":"s","nbytes":4,"offset":256,"shape":[]}]})";
  EXPECT_EQ(bytes.substr(24, 424), header + std::string(424 - header.size(), ' '));
  // w as float16: 0, 0.25, 0.5, 0.75, 1, 1.25
  EXPECT_EQ(bytes.substr(448, 12), std::string("\x00\x00\x00\x34\x00\x38\x00\x3a\x00\x3c\x00\x3d", 12));
  EXPECT_EQ(bytes.size(), 448u + 256 + 4);  // the file ends with s's last byte
  EXPECT_EQ(dm::io::sha256_file(path), "86c769f27b35bf559525e2d95ae54f388337adb2ee69debab8a85a29452a6760");
}
