// Captions and the word-level tokenizer (dm/data/captions.hpp).
#include "dm/data/captions.hpp"

#include <fmt/core.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "dm/errors.hpp"

namespace dm {

const std::array<const char*, 10>& fashion_mnist_class_words() {
  static const std::array<const char*, 10> words = {"t-shirt", "trouser", "pullover", "dress", "coat",
                                                    "sandal",  "shirt",   "sneaker",  "bag",   "ankle boot"};
  return words;
}

Vocabulary Vocabulary::fashion_mnist() {
  Vocabulary v;
  v.words_ = {"<start>", "<pad>", "a"};
  for (const auto* w : kBrightnessWords) v.words_.push_back(w);
  for (const auto* w : kSizeWords) v.words_.push_back(w);
  for (const auto* c : fashion_mnist_class_words())
    for (const auto& w : split(c))
      if (std::find(v.words_.begin(), v.words_.end(), w) == v.words_.end()) v.words_.push_back(w);
  v.context_ = 8;
  return v;
}

std::vector<std::string> Vocabulary::split(const std::string& prompt) {
  std::string lower = prompt;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  std::istringstream in(lower);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

Tokens Vocabulary::encode(const std::vector<std::string>& prompts) const {
  const auto B = static_cast<std::int64_t>(prompts.size());
  auto ids = torch::full({B, context_}, pad_id(), torch::kLong);
  auto mask = torch::zeros({B, context_}, torch::kBool);
  auto ia = ids.accessor<std::int64_t, 2>();
  auto ma = mask.accessor<bool, 2>();
  for (std::int64_t b = 0; b < B; ++b) {
    const auto words = split(prompts[std::size_t(b)]);
    if (std::int64_t(words.size()) + 1 > context_)
      throw dm::UsageError(fmt::format(
          "the prompt \"{}\" has {} words, and the text encoder's context is {} tokens (<start> and at most {} "
          "words)",
          prompts[std::size_t(b)], words.size(), context_, context_ - 1));
    ia[b][0] = start_id();
    ma[b][0] = true;
    for (std::size_t i = 0; i < words.size(); ++i) {
      const auto it = std::find(words_.begin() + 2, words_.end(), words[i]);  // <start>, <pad> are not words
      if (it == words_.end())
        throw dm::UsageError(
            fmt::format("the prompt \"{}\" has the word \"{}\", which the text encoder does not "
                        "know; its words are: {}",
                        prompts[std::size_t(b)], words[i], fmt::join(words_.begin() + 2, words_.end(), ", ")));
      ia[b][std::int64_t(i) + 1] = it - words_.begin();
      ma[b][std::int64_t(i) + 1] = true;
    }
  }
  return {ids, mask};
}

std::string fashion_mnist_caption(std::int64_t label, int brightness, int size) {
  std::string c = "a";
  if (size >= 0) c += std::string(" ") + kSizeWords.at(std::size_t(size));
  if (brightness >= 0) c += std::string(" ") + kBrightnessWords.at(std::size_t(brightness));
  return c + " " + fashion_mnist_class_words().at(std::size_t(label));
}

torch::Tensor image_brightness(const torch::Tensor& images) {
  return ((images.to(torch::kFloat32) + 1) / 2).flatten(1).mean(1);
}
torch::Tensor image_size(const torch::Tensor& images) {
  return (images.to(torch::kFloat32) > 0).to(torch::kFloat32).flatten(1).mean(1);
}

}  // namespace dm
