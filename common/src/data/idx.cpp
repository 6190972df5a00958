// The IDX files of (Fashion-)MNIST:
//   images  magic 0x00000803, count, rows, cols (big-endian uint32), then count*rows*cols bytes
//   labels  magic 0x00000801, count,                                 then count bytes
// usually gzipped. A corrupt file must give a message a person can act on, never
// a crash or a huge allocation: every size in a header is checked against the
// bytes actually present before anything is allocated from it.
#include "dm/data/idx.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <system_error>

#include "dm/errors.hpp"

namespace dm {

namespace {

constexpr std::uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr std::uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension
// Fashion-MNIST's training images are 47 MB; anything that inflates past this
// is not an IDX file of ours (or is a gzip bomb).
constexpr std::size_t kMaxInflated = std::size_t(2) << 30;  // 2 GiB

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw UserError(file.string() + ": " + what);
}

std::uint32_t be32(const std::vector<std::uint8_t>& b, std::size_t at) {
  return std::uint32_t(b[at]) << 24 | std::uint32_t(b[at + 1]) << 16 | std::uint32_t(b[at + 2]) << 8 |
         std::uint32_t(b[at + 3]);
}

std::vector<std::uint8_t> gunzip(const std::filesystem::path& file, const std::vector<std::uint8_t>& in) {
  z_stream zs;
  std::memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) fail(file, "zlib could not start inflating");
  // The gzip trailer's last 4 bytes hold the inflated size mod 2^32: a good first guess.
  std::size_t guess = in.size() * 4;
  if (in.size() >= 18) {
    const std::size_t n = in.size();
    const std::size_t isize = std::size_t(in[n - 4]) | std::size_t(in[n - 3]) << 8 | std::size_t(in[n - 2]) << 16 |
                              std::size_t(in[n - 1]) << 24;
    // Trust it only up to 64 MiB (a corrupt trailer must not allocate gigabytes); beyond, grow by doubling.
    if (isize > 0) guess = std::min<std::size_t>(isize, std::size_t(64) << 20);
  }
  std::vector<std::uint8_t> out(std::min(guess, kMaxInflated) + 1);
  zs.next_in = const_cast<Bytef*>(in.data());
  std::size_t in_left = in.size(), produced = 0;
  for (;;) {
    if (produced == out.size()) {
      if (out.size() >= kMaxInflated) {
        inflateEnd(&zs);
        fail(file, fmt::format("gzip stream inflates to more than {} GiB: not an IDX file", kMaxInflated >> 30));
      }
      out.resize(std::min(out.size() * 2, kMaxInflated));
    }
    const auto in_chunk = static_cast<uInt>(std::min<std::size_t>(in_left, std::numeric_limits<uInt>::max()));
    const auto out_chunk =
        static_cast<uInt>(std::min<std::size_t>(out.size() - produced, std::numeric_limits<uInt>::max()));
    zs.avail_in = in_chunk;
    zs.next_out = out.data() + produced;
    zs.avail_out = out_chunk;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    in_left -= in_chunk - zs.avail_in;
    produced += out_chunk - zs.avail_out;
    if (rc == Z_STREAM_END) {
      // Concatenated gzip members are one stream (as gunzip reads them).
      if (in_left >= 2 && zs.next_in[0] == 0x1f && zs.next_in[1] == 0x8b) {
        inflateReset(&zs);
        continue;
      }
      break;
    }
    if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_MEM_ERROR || rc == Z_STREAM_ERROR) {
      const std::string msg = zs.msg ? zs.msg : "unknown error";
      inflateEnd(&zs);
      fail(file, "corrupt gzip stream (" + msg + "); download the file again");
    }
    const bool progress = zs.avail_in != in_chunk || zs.avail_out != out_chunk;
    if (in_left == 0 && zs.avail_out > 0) {
      // All input consumed, room left for output, yet no end of stream: cut short.
      inflateEnd(&zs);
      fail(file, fmt::format("truncated gzip stream: the {} compressed bytes end before the data does "
                             "(an interrupted download?)",
                             in.size()));
    }
    if (!progress && zs.avail_out > 0) {
      inflateEnd(&zs);
      fail(file, "corrupt gzip stream (inflate makes no progress); download the file again");
    }
  }
  inflateEnd(&zs);
  out.resize(produced);
  return out;
}

}  // namespace

std::vector<std::uint8_t> read_maybe_gzip(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) fail(file, "file not found");
  if (std::filesystem::is_directory(file, ec)) fail(file, "is a folder, expected a file");
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file, "cannot open the file for reading (permissions?)");
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::streamoff>(in.tellg());
  if (size < 0) fail(file, "cannot determine the file's size");
  in.seekg(0, std::ios::beg);
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size)) fail(file, "read error");
  if (bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) return gunzip(file, bytes);
  return bytes;
}

IdxImages read_idx_images(const std::filesystem::path& file) {
  const auto bytes = read_maybe_gzip(file);
  if (bytes.size() < 4)
    fail(file, fmt::format("truncated: {} bytes, shorter than the 16-byte header of an IDX images file", bytes.size()));
  const std::uint32_t magic = be32(bytes, 0);
  if (magic != kImagesMagic)
    fail(file, fmt::format("wrong magic number: expected 0x{:08x} (IDX images: unsigned bytes, 3 dimensions), "
                           "found 0x{:08x}{}",
                           kImagesMagic, magic, magic == kLabelsMagic ? " (a labels file?)" : ""));
  if (bytes.size() < 16)
    fail(file, fmt::format("truncated: {} bytes, shorter than the 16-byte header of an IDX images file", bytes.size()));
  const std::uint64_t count = be32(bytes, 4), rows = be32(bytes, 8), cols = be32(bytes, 12);
  // Each factor < 2^32: rows * cols < 2^64 fits, the product with count may not.
  const std::uint64_t per_image = rows * cols;
  std::uint64_t need = 0;
  const bool overflow = __builtin_mul_overflow(count, per_image, &need);
  const std::uint64_t have = bytes.size() - 16;
  if (overflow || need != have) {
    const std::string header = fmt::format("header says {} images of {}x{} = {} bytes", count, rows, cols,
                                           overflow ? std::string("more than 2^64") : std::to_string(need));
    if (overflow || need > have)
      fail(file, fmt::format("truncated: {}, file has {} (after the 16-byte header)", header, have));
    fail(file, fmt::format("sizes disagree: {}, file has {} (after the 16-byte header): extra data", header, have));
  }
  IdxImages out;
  out.count = static_cast<std::int64_t>(count);
  out.rows = static_cast<std::int64_t>(rows);
  out.cols = static_cast<std::int64_t>(cols);
  out.pixels.assign(bytes.begin() + 16, bytes.end());
  return out;
}

std::vector<std::uint8_t> read_idx_labels(const std::filesystem::path& file) {
  const auto bytes = read_maybe_gzip(file);
  if (bytes.size() < 4)
    fail(file, fmt::format("truncated: {} bytes, shorter than the 8-byte header of an IDX labels file", bytes.size()));
  const std::uint32_t magic = be32(bytes, 0);
  if (magic != kLabelsMagic)
    fail(file, fmt::format("wrong magic number: expected 0x{:08x} (IDX labels: unsigned bytes, 1 dimension), "
                           "found 0x{:08x}{}",
                           kLabelsMagic, magic, magic == kImagesMagic ? " (an images file?)" : ""));
  if (bytes.size() < 8)
    fail(file, fmt::format("truncated: {} bytes, shorter than the 8-byte header of an IDX labels file", bytes.size()));
  const std::uint64_t count = be32(bytes, 4), have = bytes.size() - 8;
  if (count > have)
    fail(file, fmt::format("truncated: header says {} labels = {} bytes, file has {} (after the 8-byte header)", count,
                           count, have));
  if (count < have)
    fail(file, fmt::format("sizes disagree: header says {} labels = {} bytes, file has {} (after the 8-byte header): "
                           "extra data",
                           count, count, have));
  return {bytes.begin() + 8, bytes.end()};
}

}  // namespace dm
