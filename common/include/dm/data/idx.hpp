// The IDX format of (Fashion-)MNIST, gzipped or not:
//   magic 0x00000803 (images) / 0x00000801 (labels), big-endian dimension
//   sizes, then the unsigned bytes.
// Every malformed file (missing, wrong magic, sizes that disagree with the
// length, truncated gzip) is a dm::UserError naming the file and what is wrong.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace dm {

struct IdxImages {
  std::int64_t count = 0, rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;  // count * rows * cols, row-major
};

IdxImages read_idx_images(const std::filesystem::path& file);
std::vector<std::uint8_t> read_idx_labels(const std::filesystem::path& file);

// Whole file, gunzipped when it starts with the gzip magic (zlib).
std::vector<std::uint8_t> read_maybe_gzip(const std::filesystem::path& file);

}  // namespace dm
