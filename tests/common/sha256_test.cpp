// The course's SHA-256 (dm/io/sha256.hpp), which pins reference checkpoints and the evaluation
// classifier: the FIPS 180-2 test vectors ("", "abc", the 448-bit message, a million 'a's), the same
// digest fed in uneven pieces and read from a file, and a missing file as a dm::UserError.
// Run them: build/default/bin/test_common --gtest_filter='Sha256.*'
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "dm/errors.hpp"
#include "dm/io/sha256.hpp"
#include "temp_dir.hpp"

using ::testing::HasSubstr;

TEST(Sha256, MatchesTheFipsTestVectors) {
  EXPECT_EQ(dm::io::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(dm::io::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(dm::io::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),  // 448 bits
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(dm::io::sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, GivesTheSameDigestFedInPiecesAndFromAFile) {
  const std::string msg(1000, 'a');
  dm::io::Sha256 h;  // uneven pieces cross the 64-byte block boundaries
  for (std::size_t at = 0, n = 1; at < msg.size(); at += n, n = n * 2 + 1) h.update(msg.substr(at, n));
  EXPECT_EQ(h.hex_digest(), dm::io::sha256_hex(msg));
  dm::testing::TempDir dir("sha256");
  std::ofstream(dir / "a.txt", std::ios::binary) << msg;
  EXPECT_EQ(dm::io::sha256_file(dir / "a.txt"), dm::io::sha256_hex(msg));
  try {
    dm::io::sha256_file(dir / "missing");
    FAIL() << "a missing file was hashed";
  } catch (const dm::UserError& e) {
    EXPECT_THAT(e.what(), HasSubstr((dir / "missing").string()));
  }
}
