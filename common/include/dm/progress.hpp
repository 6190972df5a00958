// A progress bar with rate, ETA and the current loss:
//   train  [=========>          ]  512/1000  41.3 it/s  ETA 0:12  loss 0.0731
// On a terminal it redraws one line; when stdout is not a terminal (CI, a log
// file) it prints a plain line every ~10% instead. A bar that starts part-way (a resumed run: `start`
// of `total` done already) measures its rate and ETA over the steps it sees, not the ones before.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace dm {

class Progress {
 public:
  Progress(std::string label, std::int64_t total, std::int64_t start = 0);
  ~Progress();
  void update(std::int64_t done, std::optional<double> loss = std::nullopt);
  void finish();

 private:
  void draw(bool final_line);
  std::string label_;
  std::int64_t total_, start_done_ = 0, done_ = 0;
  std::optional<double> loss_;
  bool tty_, finished_ = false;
  std::int64_t next_plain_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace dm
