// SHA-256 (FIPS 180-4), self-contained: the course pins its reference files (checkpoints, the
// evaluation classifier) by their sha256, and checks them without a crypto library.
//
//   dm::io::sha256_hex("abc")  == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
//   dm::io::sha256_file("runs/03_ddpm/model.dmt")   // the same digest as `sha256sum` prints
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace dm::io {

// Incremental hashing: update() any number of times, then digest() once.
class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t n);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  std::array<std::uint8_t, 32> digest();  // finishes the hash; the object is spent afterwards
  std::string hex_digest();               // digest() as 64 lowercase hex digits

 private:
  void compress(const std::uint8_t* block);
  std::array<std::uint32_t, 8> h_;
  std::array<std::uint8_t, 64> buf_{};
  std::size_t buf_len_ = 0;
  std::uint64_t total_bytes_ = 0;
  bool finished_ = false;
};

// 64 lowercase hex digits.
std::string sha256_hex(std::string_view bytes);

// The file's digest, read in blocks (as `sha256sum FILE` prints it). Throws dm::UserError naming the
// path when it is missing or unreadable.
std::string sha256_file(const std::filesystem::path& path);

}  // namespace dm::io
