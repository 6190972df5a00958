#include "dm/run_dir.hpp"

#include <unistd.h>

#include <system_error>

#include "dm/atomic_write.hpp"
#include "dm/errors.hpp"

namespace dm {

RunDir::RunDir(const std::filesystem::path& root, const std::string& chapter) : path_(root / chapter) {
  std::error_code ec;
  std::filesystem::create_directories(path_, ec);
  if (ec || !std::filesystem::is_directory(path_))
    throw UserError("cannot create the output folder " + path_.string() + ": " +
                    (ec ? ec.message() : std::string("a file of that name is in the way")) +
                    " (choose another with --out)");
  if (::access(path_.c_str(), W_OK) != 0)
    throw UserError("the output folder " + path_.string() + " is not writable (choose another with --out)");
  metrics_["chapter"] = chapter;
}

void RunDir::save_metrics() const { write_file_atomic(file("metrics.json"), metrics_.dump(2) + "\n"); }

}  // namespace dm
