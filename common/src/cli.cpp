#include "dm/cli.hpp"

#include <fmt/core.h>

#include "dm/errors.hpp"
#include "dm/todo.hpp"

namespace dm {

void add_common_flags(CLI::App& app, CommonFlags& f) {
  app.add_flag("--quick", f.quick, "Small sizes for a 2-core laptop (minutes, not hours)");
  app.add_option("--out", f.out_root, "Root folder of the run folders; outputs go to <out>/" + f.chapter)
      ->capture_default_str();
  app.add_option("--data-dir", f.data_dir,
                 "Folder with the Fashion-MNIST IDX files (default: Debian's dataset-fashion-mnist, "
                 "/usr/share/datasets/fashion-mnist)");
  app.add_option("--device", f.device, "Where tensors live: auto (CUDA if available), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  app.add_option("--seed", f.seed, "Seed for every random generator")->capture_default_str();
  app.add_flag("--deterministic", f.deterministic, "Bit-reproducible kernels (slower)");
  app.add_option("--threads", f.threads, "CPU threads for torch (0: all available cores)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
}

int run_main(CLI::App& app, int argc, char** argv, const std::function<int()>& body) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "{}: {}\n\n{}", app.get_name(), e.what(), app.help());
    return 2;
  }
  try {
    return body();
  } catch (const UsageError& e) {
    fmt::print(stderr, "{}: {}\n\n{}", app.get_name(), e.what(), app.help());
    return 2;
  } catch (const UserError& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  } catch (const NotImplemented& e) {
    fmt::print(stderr, "{}\nImplement it, then run `./course grade` to check it (`./course hint <id>` helps).\n",
               e.what());
    return 1;
  }
}

CLI::Validator half_open(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& v) {
        const double x = std::stod(v);
        return x >= lo && x < hi ? std::string{} : fmt::format("must be in [{}, {}), got {}", lo, hi, v);
      },
      fmt::format("in [{}, {})", lo, hi));
}

}  // namespace dm
