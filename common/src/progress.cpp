#include "dm/progress.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace dm {

namespace {
std::string clock_string(double seconds) {
  if (!(seconds >= 0) || seconds > 359999) return "--:--";
  const auto s = static_cast<long>(seconds + 0.5);
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{}:{:02}", s / 60, s % 60);
}
}  // namespace

Progress::Progress(std::string label, std::int64_t total, std::int64_t start)
    : label_(std::move(label)),
      total_(std::max<std::int64_t>(total, 1)),
      start_done_(std::clamp<std::int64_t>(start, 0, total_)),
      done_(start_done_),
      tty_(::isatty(STDOUT_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {
  next_plain_ = start_done_;
}

Progress::~Progress() {
  if (!finished_) finish();
}

void Progress::update(std::int64_t done, std::optional<double> loss) {
  done_ = std::min(done, total_);
  if (loss) loss_ = loss;
  const auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (now - last_draw_ > std::chrono::milliseconds(100) || done_ == total_) {
      last_draw_ = now;
      draw(false);
    }
  } else if (done_ >= next_plain_) {
    draw(false);
    next_plain_ = done_ + std::max<std::int64_t>((total_ - start_done_) / 10, 1);
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  draw(true);
}

void Progress::draw(bool final_line) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? double(done_ - start_done_) / elapsed : 0.0;
  const double eta = rate > 0 ? (total_ - done_) / rate : -1.0;
  std::string loss = loss_ ? fmt::format("  loss {:.4g}", *loss_) : "";
  std::string stats = fmt::format("{:>{}}/{}  {:.1f} it/s  {} {}{}", done_, fmt::formatted_size("{}", total_), total_,
                                  rate, final_line ? "took" : "ETA", clock_string(final_line ? elapsed : eta), loss);
  if (tty_) {
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(kWidth * done_ / total_);
    std::string bar(static_cast<std::size_t>(filled), '=');
    if (filled < kWidth) bar += '>' + std::string(static_cast<std::size_t>(kWidth - filled - 1), ' ');
    fmt::print("\r{}  [{}]  {}\033[K{}", label_, bar, stats, final_line ? "\n" : "");
  } else {
    fmt::print("{}  {}\n", label_, stats);
  }
  std::fflush(stdout);
}

}  // namespace dm
