// A run folder, runs/<chapter>/, holding a chapter's figures, videos and a
// metrics.json the gallery and the tests read.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace dm {

class RunDir {
 public:
  // Creates <root>/<chapter>/ (a dm::UserError if it cannot be created or written).
  RunDir(const std::filesystem::path& root, const std::string& chapter);

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path file(const std::string& name) const { return path_ / name; }

  // metrics["key"] = value; written by save_metrics (atomically).
  nlohmann::json& metrics() { return metrics_; }
  void save_metrics() const;

 private:
  std::filesystem::path path_;
  nlohmann::json metrics_ = nlohmann::json::object();
};

}  // namespace dm
