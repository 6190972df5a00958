// Checkpoints: see dm/nn/checkpoint.hpp for the format and the checks.
#include "dm/nn/checkpoint.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/core.h>
#include <fmt/format.h>
#include <torch/serialize.h>

#include <fstream>
#include <mutex>

#include "dm/atomic_write.hpp"
#include "dm/errors.hpp"

namespace dm::nn {

namespace fs = std::filesystem;

namespace {

torch::Tensor cpu_rng_state() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_cpu_rng_state(const torch::Tensor& state) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

std::string read_string(torch::serialize::InputArchive& ar, const std::string& key, const fs::path& path) {
  c10::IValue v;
  if (!ar.try_read(key, v) || !v.isString())
    throw dm::UserError(
        fmt::format("checkpoint {} has no '{}' entry: it was not written by this course's "
                    "save_checkpoint (or by an older version). Delete it and train again.",
                    path.string(), key));
  return v.toStringRef();
}

// Opens the archive with the checks every reader shares.
void open_archive(const fs::path& path, torch::serialize::InputArchive& ar) {
  if (!fs::exists(path))
    throw dm::UserError(
        fmt::format("no checkpoint at {}: train one first (chapter 03: "
                    "build/default/bin/solutions/03_ddpm --quick), or pass the right path",
                    path.string()));
  try {
    ar.load_from(path.string());
  } catch (const c10::Error& e) {
    const std::string msg = e.what_without_backtrace();
    throw dm::UserError(
        fmt::format("checkpoint {} ({} bytes) is truncated or not a checkpoint ({}). Delete it and "
                    "train again (or resume from an older copy).",
                    path.string(), fs::file_size(path), msg.substr(0, msg.find('\n'))));
  }
  const auto format = read_string(ar, "format", path);
  if (format != kCheckpointFormat)
    throw dm::UserError(
        fmt::format("checkpoint {} has format '{}', this program reads '{}'. Delete it and train "
                    "again.",
                    path.string(), format, kCheckpointFormat));
}

CheckpointInfo read_info(torch::serialize::InputArchive& ar, const fs::path& path) {
  CheckpointInfo info;
  try {
    info.config = UNetConfig::from_json(nlohmann::json::parse(read_string(ar, "config", path)));
    info.meta = nlohmann::json::parse(read_string(ar, "meta", path));
  } catch (const nlohmann::json::exception& e) {
    throw dm::UserError(
        fmt::format("checkpoint {} has an unreadable config ({}). Delete it.", path.string(), e.what()));
  }
  return info;
}

// Loads the module stored under `key` into a fresh U-Net of the stored config, checks every
// parameter and buffer against `dst` by name and shape, and copies them over.
void load_weights(torch::serialize::InputArchive& ar, const std::string& key, const UNetConfig& cfg, UNet& dst,
                  const fs::path& path) {
  UNet fresh(cfg);
  try {
    torch::serialize::InputArchive sub;
    if (!ar.try_read(key, sub))
      throw dm::UserError(fmt::format("checkpoint {} has no '{}' weights", path.string(), key));
    fresh->load(sub);
  } catch (const c10::Error& e) {
    const std::string msg = e.what_without_backtrace();
    throw dm::UserError(
        fmt::format("checkpoint {}: the '{}' weights do not match its own config ({}). The file is "
                    "damaged: delete it.",
                    path.string(), key, msg.substr(0, msg.find('\n'))));
  }
  auto src_p = fresh->named_parameters(), src_b = fresh->named_buffers();
  auto check = [&](const std::string& name, const torch::Tensor& from, const torch::Tensor& to) {
    if (from.sizes() != to.sizes())
      throw dm::UserError(fmt::format("checkpoint {}: '{}/{}' has shape {} but this run's U-Net has {}", path.string(),
                                      key, name, fmt::format("{}", fmt::join(from.sizes(), "x")),
                                      fmt::format("{}", fmt::join(to.sizes(), "x"))));
  };
  torch::NoGradGuard ng;
  for (const auto& kv : dst->named_parameters()) {
    if (!src_p.contains(kv.key()))
      throw dm::UserError(fmt::format("checkpoint {}: '{}/{}' is missing", path.string(), key, kv.key()));
    check(kv.key(), src_p[kv.key()], kv.value());
  }
  for (const auto& kv : dst->named_buffers()) {
    if (!src_b.contains(kv.key()))
      throw dm::UserError(fmt::format("checkpoint {}: buffer '{}/{}' is missing", path.string(), key, kv.key()));
    check(kv.key(), src_b[kv.key()], kv.value());
  }
  for (auto& kv : dst->named_parameters()) kv.value().copy_(src_p[kv.key()]);
  for (auto& kv : dst->named_buffers()) kv.value().copy_(src_b[kv.key()]);
}

}  // namespace

void save_checkpoint(const fs::path& path, const TrainingState& state) {
  TORCH_CHECK(state.model && state.ema, "save_checkpoint: model and ema must be set");
  torch::serialize::OutputArchive ar;
  ar.write("format", c10::IValue(std::string(kCheckpointFormat)));
  ar.write("config", c10::IValue(state.model->config().to_json().dump()));
  auto meta = state.meta;
  meta["step"] = state.step;
  ar.write("meta", c10::IValue(meta.dump()));
  torch::serialize::OutputArchive m, e;
  state.model->save(m);
  state.ema->save(e);
  ar.write("model", m);
  ar.write("ema", e);
  if (state.optimizer) {
    torch::serialize::OutputArchive o;
    state.optimizer->save(o);
    ar.write("optimizer", o);
  }
  ar.write("rng", cpu_rng_state());

  if (!path.parent_path().empty()) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
  }
  const auto tmp = temp_path_for(path);
  try {
    ar.save_to(tmp.string());
  } catch (const c10::Error& err) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw dm::UserError(fmt::format("cannot write checkpoint {}: {}", path.string(), err.what_without_backtrace()));
  }
  commit_atomic(tmp, path);
}

CheckpointInfo read_checkpoint_info(const fs::path& path) {
  torch::serialize::InputArchive ar;
  open_archive(path, ar);
  return read_info(ar, path);
}

void load_checkpoint(const fs::path& path, TrainingState& state, bool restore_rng) {
  TORCH_CHECK(state.model && state.ema, "load_checkpoint: model and ema must be built first");
  torch::serialize::InputArchive ar;
  open_archive(path, ar);
  const auto info = read_info(ar, path);
  const auto& run = state.model->config();
  const auto diffs = info.config.differences(run);
  if (!diffs.empty()) {
    std::string msg =
        fmt::format("checkpoint {} was written for a different U-Net than this run builds:", path.string());
    for (const auto& d : diffs) msg += "\n  " + d;
    msg += "\nPass those flags to resume it, or delete it (or choose another --out) to start afresh.";
    throw dm::UserError(msg);
  }
  // Load everything into temporaries first, so a failure leaves `state` untouched.
  UNet model(info.config), ema(info.config);
  load_weights(ar, "model", info.config, model, path);
  load_weights(ar, "ema", info.config, ema, path);
  torch::Tensor rng;
  if (restore_rng && !ar.try_read("rng", rng))
    throw dm::UserError(fmt::format("checkpoint {} has no RNG state", path.string()));

  copy_weights(*model, *state.model);
  copy_weights(*ema, *state.ema);
  if (state.optimizer) {
    torch::serialize::InputArchive o;
    if (!ar.try_read("optimizer", o))
      throw dm::UserError(
          fmt::format("checkpoint {} has no optimizer state (it was saved for sampling only); "
                      "it cannot be resumed",
                      path.string()));
    try {
      state.optimizer->load(o);
    } catch (const c10::Error& e) {
      const std::string msg = e.what_without_backtrace();
      throw dm::UserError(fmt::format("checkpoint {}: the optimizer state does not fit this run's optimizer ({})",
                                      path.string(), msg.substr(0, msg.find('\n'))));
    }
  }
  state.meta = info.meta;
  state.step = info.meta.value("step", std::int64_t{0});
  if (restore_rng) set_cpu_rng_state(rng);
}

LoadedModel load_model(const fs::path& path, const torch::Device& device, TimestepEmbedding embed, bool use_ema) {
  torch::serialize::InputArchive ar;
  open_archive(path, ar);
  auto info = read_info(ar, path);
  try {
    info.config.validate();
  } catch (const dm::UsageError& e) {
    throw dm::UserError(fmt::format("checkpoint {} has an invalid U-Net config: {}", path.string(), e.what()));
  }
  UNet model(info.config, std::move(embed));
  load_weights(ar, use_ema ? "ema" : "model", info.config, model, path);
  model->to(device);
  model->eval();
  return {info.config, model, info.meta};
}

void save_model_file(const fs::path& path, const UNet& model, const UNetConfig& config, nlohmann::json meta,
                     dm::io::FloatStorage floats) {
  if (meta.is_null()) meta = nlohmann::json::object();
  meta["kind"] = "dm-unet";
  meta["config"] = config.to_json();
  dm::io::save_module(path, *model, meta, floats);
}

LoadedModel load_model_file(const fs::path& path, const torch::Device& device, TimestepEmbedding embed,
                            const std::string& expect_sha256) {
  if (!fs::exists(path)) throw dm::UserError(fmt::format("model file {} does not exist", path.string()));
  const auto header = dm::io::read_tensor_header(path);
  if (header.meta.value("kind", std::string{}) != "dm-unet" || !header.meta.contains("config"))
    throw dm::UserError(fmt::format("{} is not a course U-Net model file (its meta has no kind \"dm-unet\" and config)",
                                    path.string()));
  UNetConfig config;
  try {
    config = UNetConfig::from_json(header.meta.at("config"));
    config.validate();
  } catch (const std::exception& e) {
    throw dm::UserError(fmt::format("model file {} has an invalid U-Net config: {}", path.string(), e.what()));
  }
  UNet model(config, std::move(embed));
  auto meta = dm::io::load_module(path, *model, expect_sha256);  // hash, names, shapes, dtypes; then copies
  model->to(device);
  model->eval();
  return {config, model, meta};
}

}  // namespace dm::nn
