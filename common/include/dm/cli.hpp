// Command-line handling shared by every chapter program (CLI11).
//
//   int main(int argc, char** argv) {
//     CLI::App app{"Chapter 02: forward noising"};
//     dm::CommonFlags flags{"02_forward_noising"};
//     dm::add_common_flags(app, flags);
//     app.add_option("--t", t, "timestep")->check(CLI::Range(0, 999));
//     return dm::run_main(app, argc, argv, [&] { ...; return 0; });
//   }
//
// run_main turns a parse error or dm::UsageError into the usage text and exit
// status 2, a dm::UserError or dm::NotImplemented into a one-line message and
// status 1, and --help into the help text and status 0.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>

namespace dm {

struct CommonFlags {
  explicit CommonFlags(std::string chapter_name) : chapter(std::move(chapter_name)) {}
  std::string chapter;            // "02_forward_noising": names the run folder
  bool quick = false;             // small sizes for a 2-core laptop (minutes)
  std::string out_root = "runs";  // outputs go to <out_root>/<chapter>/
  std::string data_dir;           // empty: the Debian dataset location
  std::string device = "auto";    // auto | cpu | cuda
  std::uint64_t seed = 0;         // one seed for torch and the std generators
  bool deterministic = false;     // bit-reproducible kernels (slower)
  int threads = 0;                // 0: all available cores
};

void add_common_flags(CLI::App& app, CommonFlags& flags);

int run_main(CLI::App& app, int argc, char** argv, const std::function<int()>& body);

// A CLI11 check: the value lies in [lo, hi) (an EMA decay, a dropout rate), e.g.
// app.add_option("--ema", ema, "max EMA decay")->check(dm::half_open(0, 1)).
CLI::Validator half_open(double lo, double hi);

}  // namespace dm
