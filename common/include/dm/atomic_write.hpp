// Atomic file writes: write <path>.tmp-<pid>, then rename over <path>, so a
// reader (the gallery, a resumed run) never sees half a file.
#pragma once

#include <filesystem>
#include <string_view>

namespace dm {

// Throws dm::UserError naming the path when it cannot be written.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// A temporary sibling of `path` for writers that need a file name (video);
// call commit_atomic(tmp, path) when done.
std::filesystem::path temp_path_for(const std::filesystem::path& path);
void commit_atomic(const std::filesystem::path& tmp, const std::filesystem::path& path);

}  // namespace dm
