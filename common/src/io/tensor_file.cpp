// Tensor files: see dm/io/tensor_file.hpp for the layout and the checks.
#include "dm/io/tensor_file.hpp"

#include <fmt/core.h>
#include <torch/nn/module.h>
#include <torch/utils.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <system_error>
#include <unordered_map>
#include <unordered_set>

#include "dm/atomic_write.hpp"
#include "dm/errors.hpp"

// The preamble's integers are written byte by byte, but tensor bytes go to and from memory as they are.
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "dm/io/tensor_file.cpp copies tensor bytes as they are: it needs a little-endian machine"
#endif

namespace dm::io {

namespace fs = std::filesystem;

namespace {

struct DtypeInfo {
  torch::Dtype dtype;
  const char* name;
  std::uint64_t size;  // bytes per element
};

const std::array<DtypeInfo, 10> kDtypes = {{{torch::kFloat32, "float32", 4},
                                            {torch::kFloat16, "float16", 2},
                                            {torch::kBFloat16, "bfloat16", 2},
                                            {torch::kFloat64, "float64", 8},
                                            {torch::kInt64, "int64", 8},
                                            {torch::kInt32, "int32", 4},
                                            {torch::kInt16, "int16", 2},
                                            {torch::kInt8, "int8", 1},
                                            {torch::kUInt8, "uint8", 1},
                                            {torch::kBool, "bool", 1}}};

const DtypeInfo* find_dtype(torch::Dtype dtype) {
  for (const auto& d : kDtypes)
    if (d.dtype == dtype) return &d;
  return nullptr;
}

const DtypeInfo* find_dtype(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

std::string known_dtypes() {
  std::string s;
  for (const auto& d : kDtypes) s += (s.empty() ? "" : ", ") + std::string(d.name);
  return s;
}

bool is_floating(torch::Dtype d) {
  return d == torch::kFloat32 || d == torch::kFloat16 || d == torch::kBFloat16 || d == torch::kFloat64;
}

template <typename Range>
std::string shape_str(const Range& shape) {
  std::string s = "[";
  for (const auto n : shape) s += (s.size() > 1 ? ", " : "") + std::to_string(n);
  return s + "]";
}

std::uint64_t align_up(std::uint64_t n) {
  return (n + kTensorFileAlignment - 1) / kTensorFileAlignment * kTensorFileAlignment;
}

void put_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

std::uint64_t get_le(const unsigned char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// What a file that is not ours starts with, in words.
std::string describe_start(const unsigned char* p, std::size_t n) {
  if (n >= 4 && p[0] == 'P' && p[1] == 'K' && p[2] == 3 && p[3] == 4)
    return "it is a zip archive, as torch::save writes: a checkpoint from before the course used tensor files? "
           "Train or download it again";
  if (n >= 1 && (p[0] == '{' || p[0] == '[')) return "it looks like a JSON text";
  std::string hex;
  for (std::size_t i = 0; i < std::min<std::size_t>(n, 8); ++i) hex += fmt::format("{}{:02x}", i ? " " : "", p[i]);
  return "it starts with bytes " + hex + ", not the magic \"DMTENSOR\" (44 4d 54 45 4e 53 4f 52)";
}

// The tensor as it will be stored: on the CPU, detached, in the storage dtype, contiguous.
torch::Tensor stored_form(const torch::Tensor& t, FloatStorage floats, const std::string& name, const fs::path& path) {
  auto c = t.detach().to(torch::kCPU);
  const bool wide_float = c.scalar_type() == torch::kFloat32 || c.scalar_type() == torch::kFloat64;
  if (wide_float && floats == FloatStorage::kFloat16) {
    auto h = c.to(torch::kFloat16);
    if ((h.isinf() & c.isfinite()).any().item<bool>()) {
      const double max_abs = c.masked_select(c.isfinite()).abs().max().item<double>();
      throw UserError(
          fmt::format("cannot store tensor '{}' as float16 in {}: its largest |value| is {:g}, beyond float16's 65504. "
                      "Store the file with FloatStorage::kBFloat16 or kAsIs.",
                      name, path.string(), max_abs));
    }
    c = h;
  } else if (wide_float && floats == FloatStorage::kBFloat16) {
    c = c.to(torch::kBFloat16);
  }
  return c.contiguous();
}

[[noreturn]] void bad(const fs::path& path, const std::string& what) {
  throw UserError(fmt::format("tensor file {}: {}", path.string(), what));
}

std::string entry_label(std::size_t i, const nlohmann::json& e) {
  if (e.is_object() && e.contains("name") && e["name"].is_string())
    return fmt::format("tensor #{} ('{}')", i, e["name"].get<std::string>());
  return fmt::format("tensor #{}", i);
}

std::uint64_t get_u64(const fs::path& path, const nlohmann::json& e, const char* key, const std::string& label) {
  if (!e.contains(key) || !e[key].is_number_unsigned())
    bad(path,
        fmt::format("{} has no '{}' (a non-negative integer) in its header entry: the header is corrupt", label, key));
  return e[key].get<std::uint64_t>();
}

TensorEntry parse_entry(const fs::path& path, std::size_t i, const nlohmann::json& e) {
  const auto label = entry_label(i, e);
  if (!e.is_object()) bad(path, label + " is not a JSON object in the header: the header is corrupt");
  TensorEntry out;
  if (!e.contains("name") || !e["name"].is_string() || e["name"].get<std::string>().empty())
    bad(path, label + " has no 'name' (a non-empty string): the header is corrupt");
  out.name = e["name"].get<std::string>();
  if (!e.contains("dtype") || !e["dtype"].is_string())
    bad(path, label + " has no 'dtype' (a string): the header is corrupt");
  const auto dtype = e["dtype"].get<std::string>();
  const DtypeInfo* info = find_dtype(dtype);
  if (!info)
    bad(path, fmt::format("{} has dtype '{}', which this program does not read (it reads {}): was the file written "
                          "by a newer course?",
                          label, dtype, known_dtypes()));
  out.dtype = info->dtype;
  if (!e.contains("shape") || !e["shape"].is_array())
    bad(path, label + " has no 'shape' (a list of non-negative integers): the header is corrupt");
  // The element count, checked for overflow: a corrupt shape must not make a huge allocation.
  std::uint64_t numel = 1;
  bool overflow = false;
  for (const auto& d : e["shape"]) {
    if (!d.is_number_unsigned() ||
        d.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      bad(path, fmt::format("{} has shape {}, not a list of non-negative integers: the header is corrupt", label,
                            e["shape"].dump()));
    const auto n = d.get<std::uint64_t>();
    out.shape.push_back(static_cast<std::int64_t>(n));
    if (n != 0 && numel > std::numeric_limits<std::uint64_t>::max() / n) overflow = true;
    numel *= n;
  }
  out.offset = get_u64(path, e, "offset", label);
  out.nbytes = get_u64(path, e, "nbytes", label);
  if (std::find(out.shape.begin(), out.shape.end(), 0) != out.shape.end()) {  // empty: a partial product may overflow
    overflow = false;
    numel = 0;
  }
  if (overflow || numel > std::numeric_limits<std::uint64_t>::max() / info->size || numel * info->size != out.nbytes)
    bad(path, fmt::format("{} has shape {} of {} ({} bytes each) but 'nbytes' {}: the header is corrupt", label,
                          shape_str(out.shape), dtype, info->size, out.nbytes));
  if (out.offset % kTensorFileAlignment != 0)
    bad(path, fmt::format("{} starts at offset {}, not a multiple of {}: the header is corrupt", label, out.offset,
                          kTensorFileAlignment));
  return out;
}

// Opens `path` and reads and checks its header; `in` is left open for reading the data.
TensorFileHeader read_header(const fs::path& path, std::ifstream& in, std::uint64_t& file_size) {
  std::error_code ec;
  if (!fs::exists(path, ec) || fs::is_directory(path, ec))
    throw UserError(fmt::format("no tensor file at {}: check the path (or produce the file first)", path.string()));
  file_size = fs::file_size(path, ec);
  in.open(path, std::ios::binary);
  if (ec || !in) throw UserError(fmt::format("cannot read tensor file {}: permission denied?", path.string()));

  std::array<unsigned char, kTensorFilePreamble> pre{};
  const auto n_pre = static_cast<std::size_t>(std::min<std::uint64_t>(file_size, kTensorFilePreamble));
  in.read(reinterpret_cast<char*>(pre.data()), static_cast<std::streamsize>(n_pre));
  if (static_cast<std::size_t>(in.gcount()) != n_pre) bad(path, "read error in the preamble");
  const std::size_t n_magic = std::min<std::size_t>(n_pre, sizeof(kTensorFileMagic));
  if (!std::equal(pre.begin(), pre.begin() + static_cast<std::ptrdiff_t>(n_magic), kTensorFileMagic))
    bad(path, "not a tensor file: " + describe_start(pre.data(), n_pre));
  if (file_size < kTensorFilePreamble)
    bad(path, fmt::format("the file is truncated: {} bytes, shorter than the {}-byte preamble. Write or download it "
                          "again.",
                          file_size, kTensorFilePreamble));
  const auto version = get_le(pre.data() + 8, 4), reserved = get_le(pre.data() + 12, 4);
  if (version > kTensorFileVersion)
    bad(path, fmt::format("format version {}, this program reads version {}: the file was written by a newer "
                          "course. Update (git pull) and rebuild.",
                          version, kTensorFileVersion));
  if (version != kTensorFileVersion || reserved != 0)
    bad(path, fmt::format("corrupt preamble (version {}, reserved field {}; expected {} and 0)", version, reserved,
                          kTensorFileVersion));
  const std::uint64_t h = get_le(pre.data() + 16, 8);
  if (h > file_size - kTensorFilePreamble)
    bad(path, fmt::format("the header's length, {} bytes, runs past the end of the file ({} bytes): the file is "
                          "truncated or corrupt",
                          h, file_size));
  TensorFileHeader out;
  out.data_start = kTensorFilePreamble + h;
  if (out.data_start % kTensorFileAlignment != 0)
    bad(path, fmt::format("the header's length, {} bytes, does not end on a multiple of {}: the file is corrupt", h,
                          kTensorFileAlignment));

  std::string text(static_cast<std::size_t>(h), '\0');
  in.read(text.data(), static_cast<std::streamsize>(h));
  if (static_cast<std::uint64_t>(in.gcount()) != h) bad(path, "read error in the header");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    bad(path, fmt::format("the header is not valid JSON ({}): the file is corrupt", e.what()));
  }
  if (!header.is_object() || !header.contains("tensors") || !header["tensors"].is_array())
    bad(path, "the header has no \"tensors\" list: the file is corrupt");
  out.meta = header.value("meta", nlohmann::json::object());
  if (!out.meta.is_object()) bad(path, "the header's \"meta\" is not a JSON object: the file is corrupt");

  std::unordered_set<std::string> names;
  for (std::size_t i = 0; i < header["tensors"].size(); ++i) {
    out.entries.push_back(parse_entry(path, i, header["tensors"][i]));
    if (!names.insert(out.entries.back().name).second)
      bad(path, fmt::format("tensor '{}' appears twice in the header: the file is corrupt", out.entries.back().name));
  }

  // Every tensor inside the data, none overlapping, nothing after the last.
  const std::uint64_t data_size = file_size - out.data_start;
  std::vector<const TensorEntry*> by_offset;
  for (const auto& e : out.entries) {
    if (e.offset > data_size || e.nbytes > data_size - e.offset)
      bad(path, fmt::format("tensor '{}' occupies bytes [{}, {}) of the data, past the end of the file's {} data "
                            "bytes: the file is truncated (or its header is corrupt). Write or download it again.",
                            e.name, e.offset, e.offset + e.nbytes, data_size));
    if (e.nbytes > 0) by_offset.push_back(&e);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  std::uint64_t end = 0;
  for (std::size_t i = 0; i < by_offset.size(); ++i) {
    if (i > 0 && by_offset[i]->offset < end)
      bad(path, fmt::format("tensors '{}' and '{}' overlap in the data: the header is corrupt", by_offset[i - 1]->name,
                            by_offset[i]->name));
    end = by_offset[i]->offset + by_offset[i]->nbytes;
  }
  if (end < data_size)
    bad(path, fmt::format("{} bytes follow the last tensor's data: the file is corrupt (or two files were "
                          "concatenated)",
                          data_size - end));
  return out;
}

std::string normalized_sha256(const std::string& s) {
  std::string out;
  for (const char c : s) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const bool hex = out.size() == 64 && std::all_of(out.begin(), out.end(), [](char c) {
                     return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                   });
  if (!hex) throw std::invalid_argument("load_module: expect_sha256 must be 64 hex digits, got '" + s + "'");
  return out;
}

std::string list_names(const std::vector<std::string>& names) {
  constexpr std::size_t kShown = 12;
  std::string s;
  for (std::size_t i = 0; i < std::min(names.size(), kShown); ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > kShown) s += fmt::format(", ... ({} more)", names.size() - kShown);
  return s;
}

}  // namespace

std::string dtype_name(torch::Dtype dtype) {
  const DtypeInfo* info = find_dtype(dtype);
  if (!info)
    throw std::invalid_argument(
        fmt::format("tensor files do not store dtype {} (they store {})", c10::toString(dtype), known_dtypes()));
  return info->name;
}

bool TensorFile::contains(const std::string& name) const {
  return std::any_of(tensors.begin(), tensors.end(), [&](const auto& kv) { return kv.first == name; });
}

const torch::Tensor& TensorFile::at(const std::string& name) const {
  for (const auto& kv : tensors)
    if (kv.first == name) return kv.second;
  throw UserError(fmt::format("tensor file {} has no tensor '{}'", path.string(), name));
}

void save_tensors(const fs::path& path, const NamedTensors& tensors, const nlohmann::json& meta, FloatStorage floats) {
  if (!meta.is_null() && !meta.is_object())
    throw std::invalid_argument("save_tensors: meta must be a JSON object, got " + meta.dump());
  std::vector<torch::Tensor> data;
  auto entries = nlohmann::json::array();
  std::unordered_set<std::string> names;
  std::uint64_t end = 0;
  for (const auto& [name, t] : tensors) {
    if (name.empty()) throw std::invalid_argument("save_tensors: a tensor has an empty name");
    if (!names.insert(name).second) throw std::invalid_argument("save_tensors: the name '" + name + "' repeats");
    if (!t.defined()) throw std::invalid_argument("save_tensors: tensor '" + name + "' is undefined");
    data.push_back(stored_form(t, floats, name, path));
    const auto& c = data.back();
    const std::uint64_t nbytes = c.nbytes();
    const std::uint64_t offset = nbytes == 0 ? 0 : align_up(end);  // an empty tensor sits at 0
    entries.push_back({{"name", name},
                       {"dtype", dtype_name(c.scalar_type())},
                       {"shape", c.sizes().vec()},
                       {"offset", offset},
                       {"nbytes", nbytes}});
    if (nbytes > 0) end = offset + nbytes;
  }
  const nlohmann::json header = {{"meta", meta.is_null() ? nlohmann::json::object() : meta}, {"tensors", entries}};
  // Invalid UTF-8 in meta (a non-UTF-8 path in a command line) becomes U+FFFD rather than an exception.
  std::string text = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.append(align_up(kTensorFilePreamble + text.size()) - kTensorFilePreamble - text.size(), ' ');

  std::string pre(kTensorFileMagic, sizeof(kTensorFileMagic));
  put_le(pre, kTensorFileVersion, 4);
  put_le(pre, 0, 4);
  put_le(pre, text.size(), 8);

  std::error_code ec;
  if (!path.parent_path().empty()) fs::create_directories(path.parent_path(), ec);
  const auto tmp = temp_path_for(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw UserError(fmt::format("cannot write {}: the folder is missing or not writable", path.string()));
    out.write(pre.data(), static_cast<std::streamsize>(pre.size()));
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    const std::string zeros(kTensorFileAlignment, '\0');
    std::uint64_t at = 0;
    for (std::size_t i = 0; i < data.size(); ++i) {
      const auto offset = entries[i]["offset"].get<std::uint64_t>();
      const auto nbytes = entries[i]["nbytes"].get<std::uint64_t>();
      if (nbytes == 0) continue;
      out.write(zeros.data(), static_cast<std::streamsize>(offset - at));
      out.write(static_cast<const char*>(data[i].data_ptr()), static_cast<std::streamsize>(nbytes));
      at = offset + nbytes;
    }
    out.flush();
    if (!out) {
      out.close();
      fs::remove(tmp, ec);
      throw UserError(fmt::format("cannot write {}: write failed (disk full?)", path.string()));
    }
  }
  commit_atomic(tmp, path);
}

TensorFileHeader read_tensor_header(const fs::path& path) {
  std::ifstream in;
  std::uint64_t size = 0;
  return read_header(path, in, size);
}

TensorFile load_tensors(const fs::path& path) {
  std::ifstream in;
  std::uint64_t size = 0;
  auto header = read_header(path, in, size);
  TensorFile out;
  out.path = path;
  out.meta = std::move(header.meta);
  for (const auto& e : header.entries) {
    auto t = torch::empty(e.shape, torch::TensorOptions().dtype(e.dtype));
    if (e.nbytes > 0) {
      in.seekg(static_cast<std::streamoff>(header.data_start + e.offset));
      in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(e.nbytes));
      if (!in || static_cast<std::uint64_t>(in.gcount()) != e.nbytes)
        bad(path, fmt::format("read error in tensor '{}' (the file changed while it was read?)", e.name));
    }
    if (e.dtype == torch::kBool) {  // any byte but 0 and 1 would be an invalid bool
      const auto* p = static_cast<const unsigned char*>(t.data_ptr());
      if (std::any_of(p, p + e.nbytes, [](unsigned char b) { return b > 1; }))
        bad(path, fmt::format("bool tensor '{}' holds bytes other than 0 and 1: the file is corrupt", e.name));
    }
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

NamedTensors module_tensors(const torch::nn::Module& module) {
  NamedTensors out;
  for (const auto& kv : module.named_parameters(/*recurse=*/true))
    if (kv.value().defined()) out.emplace_back(kv.key(), kv.value());
  for (const auto& kv : module.named_buffers(/*recurse=*/true))
    if (kv.value().defined()) out.emplace_back(kv.key(), kv.value());
  return out;
}

NamedTensors prefixed(const std::string& prefix, NamedTensors tensors) {
  for (auto& kv : tensors) kv.first = prefix + kv.first;
  return tensors;
}

void save_module(const fs::path& path, const torch::nn::Module& module, const nlohmann::json& meta,
                 FloatStorage floats) {
  save_tensors(path, module_tensors(module), meta, floats);
}

void load_into_module(const TensorFile& file, torch::nn::Module& module, const std::string& prefix) {
  std::unordered_map<std::string, const torch::Tensor*> in_file;
  for (const auto& [name, t] : file.tensors)
    if (name.compare(0, prefix.size(), prefix) == 0) in_file.emplace(name.substr(prefix.size()), &t);
  const auto dst = module_tensors(module);
  std::unordered_set<std::string> in_model;
  std::vector<std::string> missing, unexpected, shapes, dtypes;
  for (const auto& [name, t] : dst) {
    in_model.insert(name);
    const auto it = in_file.find(name);
    if (it == in_file.end()) {
      missing.push_back(prefix + name);
      continue;
    }
    const auto& src = *it->second;
    if (src.sizes() != t.sizes())
      shapes.push_back(
          fmt::format("{}{}: file {}, model {}", prefix, name, shape_str(src.sizes()), shape_str(t.sizes())));
    else if (src.scalar_type() != t.scalar_type() && !(is_floating(src.scalar_type()) && is_floating(t.scalar_type())))
      dtypes.push_back(fmt::format("{}{}: file {}, model {}", prefix, name, c10::toString(src.scalar_type()),
                                   c10::toString(t.scalar_type())));
  }
  for (const auto& [name, t] : file.tensors)
    if (name.compare(0, prefix.size(), prefix) == 0 && !in_model.count(name.substr(prefix.size())))
      unexpected.push_back(name);

  if (!missing.empty() || !unexpected.empty() || !shapes.empty() || !dtypes.empty()) {
    std::string msg =
        prefix.empty() ? fmt::format("{} does not fit this model:", file.path.string())
                       : fmt::format("{}: the tensors under '{}' do not fit this model:", file.path.string(), prefix);
    if (!missing.empty()) msg += fmt::format("\n  missing from the file ({}): {}", missing.size(), list_names(missing));
    if (!unexpected.empty())
      msg += fmt::format("\n  in the file but not in the model ({}): {}", unexpected.size(), list_names(unexpected));
    for (const auto& s : shapes) msg += "\n  shape differs: " + s;
    for (const auto& s : dtypes) msg += "\n  dtype differs: " + s;
    if (file.meta.contains("config")) {
      auto config = file.meta["config"].dump();
      if (config.size() > 400) config = config.substr(0, 400) + " ...";
      msg += "\nThe file's meta gives its config: " + config + ".";
    }
    msg +=
        "\nIt was written for another architecture: build the model it describes, or use the file written for "
        "this one.";
    throw UserError(msg);
  }

  torch::NoGradGuard no_grad;
  for (const auto& [name, t] : dst) {
    auto target = t;  // shares the module's storage
    target.copy_(*in_file.at(name));
  }
}

nlohmann::json load_module(const fs::path& path, torch::nn::Module& module, const std::string& expect_sha256) {
  if (!expect_sha256.empty()) {
    const auto expected = normalized_sha256(expect_sha256);
    const auto actual = sha256_file(path);
    if (actual != expected)
      throw UserError(fmt::format(
          "{} has sha256 {}, but this program expects {}: it is not the file the course pins (damaged, partly "
          "downloaded, or replaced). Restore it (git checkout -- {}) or fetch it again; if you retrained it on "
          "purpose, update the expected hash in the code.",
          path.string(), actual, expected, path.string()));
  }
  auto file = load_tensors(path);
  load_into_module(file, module);
  return file.meta;
}

}  // namespace dm::io
