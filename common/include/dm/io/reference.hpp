// The course's committed trained artefacts (reference/, its README): where they are and the sha256
// their provenance JSON records, which a loader checks before it reads the file.
#pragma once

#include <filesystem>
#include <string>

namespace dm::io {

// reference/<relative> inside the course's checkout, e.g. reference_path("03_ddpm/model.dmt").
std::filesystem::path reference_path(const std::string& relative);

// The "sha256" of the provenance beside a reference file (X.dmt -> X.json). Throws dm::UserError naming
// the JSON when it is missing or has none, and saying how to restore it.
std::string reference_sha256(const std::filesystem::path& file);

// `file` as a student reads it in the program's output: relative to the current folder when it lies
// below it (reference/06_guidance/model.dmt), else as it is.
std::string shown_path(const std::filesystem::path& file);

}  // namespace dm::io
