// Paths and recorded hashes of the committed artefacts in reference/.
#include "dm/io/reference.hpp"

#include <fstream>

#include <nlohmann/json.hpp>

#include "dm/errors.hpp"

namespace dm::io {

std::filesystem::path reference_path(const std::string& relative) {
  return std::filesystem::path(DM_REFERENCE_DIR) / relative;
}

std::string shown_path(const std::filesystem::path& file) {
  std::error_code ec;
  const auto rel = std::filesystem::relative(file, std::filesystem::current_path(ec), ec);
  if (ec || rel.empty() || *rel.begin() == "..") return file.string();
  return rel.string();
}

std::string reference_sha256(const std::filesystem::path& file) {
  auto prov = file;
  prov.replace_extension(".json");
  std::ifstream in(prov);
  nlohmann::json p;
  try {
    if (in) p = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception&) {
    p = nullptr;
  }
  if (!p.is_object() || !p.contains("sha256") || !p.at("sha256").is_string())
    throw UserError("the provenance " + prov.string() + " of " + file.string() +
                    " is missing or has no sha256: restore both with `git checkout -- reference/`");
  return p.at("sha256").get<std::string>();
}

}  // namespace dm::io
