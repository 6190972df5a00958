#include "dm/atomic_write.hpp"

#include <unistd.h>

#include <fstream>
#include <system_error>

#include "dm/errors.hpp"

namespace dm {

std::filesystem::path temp_path_for(const std::filesystem::path& path) {
  // Keep the extension last: some writers (OpenCV's video) pick the format by it.
  return path.parent_path() / (".tmp-" + std::to_string(::getpid()) + "-" + path.filename().string());
}

void commit_atomic(const std::filesystem::path& tmp, const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw UserError("cannot write " + path.string() + ": " + ec.message());
  }
}

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  const auto tmp = temp_path_for(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw UserError("cannot write " + path.string() + ": the folder is missing or not writable");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      throw UserError("cannot write " + path.string() + ": write failed (disk full?)");
    }
  }
  commit_atomic(tmp, path);
}

}  // namespace dm
