// Captions for Fashion-MNIST and the word-level tokenizer of the course's text encoder (chapter 06, part 4).
//
// A caption names the class and, optionally, two attributes measured from the image itself: its
// brightness ("dark" / "light") and its size ("small" / "large"), each split at its class's median, so
// that every class has both words of each pair:
//   "a dark ankle boot", "a small light bag", "a trouser", "" (the empty prompt: no words)
// The words are fixed (kind of like a CLIP vocabulary, only 16 words); a prompt is split at spaces,
// lower-cased, and each word looked up. Token 0 is <start>, which every prompt begins with (so that even
// the empty prompt has one key to attend to), token 1 is <pad>, which fills the rest of the context and
// is masked out.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

namespace dm {

struct Tokens {
  torch::Tensor ids;   // [B, context] int64: <start>, the words, then <pad>
  torch::Tensor mask;  // [B, context] bool: true for <start> and the words, false for <pad>
};

class Vocabulary {
 public:
  // The course's: <start>, <pad>, "a", the four attribute words and the class words; context 8 tokens.
  static Vocabulary fashion_mnist();

  std::int64_t size() const { return static_cast<std::int64_t>(words_.size()); }
  std::int64_t context() const { return context_; }
  const std::vector<std::string>& words() const { return words_; }
  std::int64_t start_id() const { return 0; }
  std::int64_t pad_id() const { return 1; }

  // The prompt's words (lower-cased, split at white space; "" has none).
  static std::vector<std::string> split(const std::string& prompt);
  // One row per prompt. A word outside the vocabulary is a dm::UsageError that lists the vocabulary; a
  // prompt whose words and <start> need more than context() tokens is a dm::UsageError naming the limit.
  Tokens encode(const std::vector<std::string>& prompts) const;

 private:
  std::vector<std::string> words_;
  std::int64_t context_ = 8;
};

// The words of the ten classes, in label order ("t-shirt", "trouser", ..., "ankle boot").
const std::array<const char*, 10>& fashion_mnist_class_words();

// Attribute words, index 0 below the class's median, 1 above it.
inline const std::array<const char*, 2> kBrightnessWords = {"dark", "light"};
inline const std::array<const char*, 2> kSizeWords = {"small", "large"};

// "a [size] [brightness] <class>": brightness, size in {-1 (left out), 0, 1}.
std::string fashion_mnist_caption(std::int64_t label, int brightness, int size);

// What the captions measure, per image of [N, 1, H, W] in [-1, 1]: its mean intensity on [0, 1], and the
// fraction of its pixels that are lit (above the middle grey, 0 in [-1, 1] units).
torch::Tensor image_brightness(const torch::Tensor& images);  // [N] float
torch::Tensor image_size(const torch::Tensor& images);        // [N] float

}  // namespace dm
