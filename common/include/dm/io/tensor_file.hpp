// Tensor files: the course's own format for checkpoints and reference weights (the evaluation
// classifier, the reference U-Nets). torch::save writes a pickle inside a zip whose reading across
// LibTorch versions is not promised; a tensor file is plain bytes that any LibTorch (1.13 on a
// student's Debian laptop, 2.x on a GPU box) and any language reads the same way, and its sha256
// pins it.
//
// Layout, byte by byte (all integers little-endian; "DMTENSOR" is ASCII, no terminator):
//
//   offset  size  content
//   0       8     magic "DMTENSOR"                       44 4d 54 45 4e 53 4f 52
//   8       4     u32 format version, 1 (kTensorFileVersion)
//   12      4     u32 reserved, 0
//   16      8     u64 H, the header's length in bytes
//   24      H     the header: UTF-8 JSON, padded with spaces (0x20) so that 24 + H is a multiple of 64
//   24 + H  ...   the data: each tensor's bytes, C-contiguous (row-major), little-endian, at its offset
//                 from the start of the data; offsets are multiples of 64 (kTensorFileAlignment), gaps
//                 are zero bytes, and the file ends with the last tensor's last byte.
//
// The header (keys sorted, as written):
//   {"meta": {...},                               free-form provenance: command, commit, wall time,
//                                                 metrics, the architecture's config ...
//    "tensors": [{"dtype": "float16",             float32 float16 bfloat16 float64
//                                                 int64 int32 int16 int8 uint8 bool (1 byte: 0 or 1)
//                 "name": "down.0.conv.weight",
//                 "nbytes": 1152,                 = product of shape x the dtype's size
//                 "offset": 0,                    from the start of the data; 0 for an empty tensor
//                 "shape": [8, 8, 3, 3]}, ...]}   [] for a 0-d tensor; a 0 in it for an empty one
//   Tensors keep the order they were given in; names are unique.
//
// Reading checks every field and throws dm::UserError naming the file and what is wrong (not a
// tensor file, a newer version, truncated, header length past the end, bad JSON, an offset or
// length outside the data, an unknown dtype, shape x dtype size != nbytes, overlapping tensors,
// bytes after the last tensor); it allocates nothing before the header has passed.
//
//   dm::io::save_module("runs/03_ddpm/model.dmt", *unet, {{"config", cfg.to_json()}, {"step", step}},
//                       dm::io::FloatStorage::kFloat16);
//   auto meta = dm::io::load_module("runs/03_ddpm/model.dmt", *unet, /*expect_sha256=*/"");
//
// Inspect one from the shell:  tail -c +25 FILE | head -c 2000; echo   (the start of the header's JSON)
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>
#include <nlohmann/json.hpp>

#include "dm/io/sha256.hpp"

namespace torch::nn {
class Module;
}

namespace dm::io {

inline constexpr char kTensorFileMagic[8] = {'D', 'M', 'T', 'E', 'N', 'S', 'O', 'R'};
inline constexpr std::uint32_t kTensorFileVersion = 1;
inline constexpr std::uint64_t kTensorFileAlignment = 64;
inline constexpr std::uint64_t kTensorFilePreamble = 24;  // magic, version, reserved, H

// The file name extension the course uses for tensor files.
inline constexpr const char* kTensorFileExtension = ".dmt";

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// How floating-point tensors are stored. kFloat16 and kBFloat16 round float32 and float64 tensors to
// 16 bits (half the file; 16-bit tensors and integer tensors are stored as they are). float16 keeps
// 11 significant bits up to |x| = 65504 (save throws dm::UserError naming a tensor that would
// overflow); bfloat16 keeps 8 bits over float32's whole range.
enum class FloatStorage { kAsIs, kFloat16, kBFloat16 };

// One header entry.
struct TensorEntry {
  std::string name;
  torch::Dtype dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t offset = 0;  // from the start of the data
  std::uint64_t nbytes = 0;
};

// The header alone: cheap to read (no tensor bytes), for checking the architecture before building a
// model.
struct TensorFileHeader {
  std::vector<TensorEntry> entries;  // file order
  nlohmann::json meta;
  std::uint64_t data_start = 0;  // 24 + H
};

// A whole file: the tensors in file order, on the CPU, in their stored dtype.
struct TensorFile {
  NamedTensors tensors;
  nlohmann::json meta;
  std::filesystem::path path;  // where it was read from (for messages)

  bool contains(const std::string& name) const;
  // Throws dm::UserError naming the tensor and the file when there is no such tensor.
  const torch::Tensor& at(const std::string& name) const;
};

// Writes `tensors` (any device, any strides; detached, copied to the CPU and made contiguous) and
// `meta` (a JSON object; null, which `{}` gives, counts as an empty one) atomically: a temporary
// sibling, then a rename over `path`. The parent folder is created. Throws std::invalid_argument for an undefined
// tensor, an empty or repeated name, an unsupported dtype or a meta that is not an object; dm::UserError when the file
// cannot be written.
void save_tensors(const std::filesystem::path& path, const NamedTensors& tensors,
                  const nlohmann::json& meta = nlohmann::json::object(), FloatStorage floats = FloatStorage::kAsIs);

TensorFileHeader read_tensor_header(const std::filesystem::path& path);
TensorFile load_tensors(const std::filesystem::path& path);

// The module's named_parameters and named_buffers (recursive, "block.0.conv.weight"), parameters
// first, in the module's order.
NamedTensors module_tensors(const torch::nn::Module& module);

// `tensors` with `prefix` put before each name: several modules in one file (a training checkpoint's
// "model." and "ema." weights), each loaded with load_into_module(file, m, "ema.").
NamedTensors prefixed(const std::string& prefix, NamedTensors tensors);

void save_module(const std::filesystem::path& path, const torch::nn::Module& module,
                 const nlohmann::json& meta = nlohmann::json::object(), FloatStorage floats = FloatStorage::kAsIs);

// Loads `path` into `module`'s parameters and buffers and returns the file's meta. Checks, in this
// order, each failure a dm::UserError that says what to do:
//   the sha256, when expect_sha256 is given (64 hex digits; both hashes in the message);
//   the file itself (as load_tensors);
//   every module tensor is in the file and every file tensor is in the module (all the missing and
//   unexpected names listed);
//   the shapes agree (name, file shape, module shape, for every mismatch);
//   the dtypes are compatible: a floating-point tensor loads into any floating-point one (fp16 in the
//   file becomes the module's float32), others must match exactly.
// Only then copies, under NoGradGuard, onto each tensor's own device and dtype: a failure leaves the
// module untouched. The caller checks the architecture's config in the returned meta.
nlohmann::json load_module(const std::filesystem::path& path, torch::nn::Module& module,
                           const std::string& expect_sha256 = "");

// The checks and the copy of load_module, for the file's tensors whose names start with `prefix` (the
// prefix removed; the others are ignored unless the prefix is empty). Throws dm::UserError naming
// file.path; leaves `module` untouched on failure.
void load_into_module(const TensorFile& file, torch::nn::Module& module, const std::string& prefix = "");

// The dtype's name in the header ("float32"); throws std::invalid_argument for a dtype the format does
// not store (complex, quantized).
std::string dtype_name(torch::Dtype dtype);

}  // namespace dm::io
