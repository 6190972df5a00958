// Trains the course's evaluation classifier (dm/eval/classifier.hpp) once and writes it as a tensor
// file. `./course train-classifier` runs it and records the provenance (sha256, command, commit, wall
// time) in reference/fmnist_classifier.json; every chapter's FID, KID, precision and recall are then
// measured in its feature space, the same on every machine.
//
//   build/default/bin/train_classifier --out reference/fmnist_classifier.dmt --threads 1
#include <fmt/core.h>
#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "dm/cli.hpp"
#include "dm/data/fashion_mnist.hpp"
#include "dm/device.hpp"
#include "dm/errors.hpp"
#include "dm/eval/classifier.hpp"
#include "dm/progress.hpp"
#include "dm/runtime.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Train the course's Fashion-MNIST evaluation classifier (seed 0, 2 epochs) into a tensor file"};
  app.name("train_classifier");
  dm::CommonFlags flags{"train_classifier"};
  dm::add_common_flags(app, flags);
  std::string out;
  dm::eval::ClassifierTrainOptions to;
  app.add_option("--output", out, "the tensor file to write (.dmt)")->required();
  app.add_option("--epochs", to.epochs, "passes over the training set")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  return dm::run_main(app, argc, argv, [&] {
    if (std::filesystem::path(out).extension() != ".dmt")
      throw dm::UsageError("--output " + out + ": the file name must end in .dmt (a course tensor file)");
    dm::init_runtime(flags);
    const auto device = dm::pick_device(flags.device);
    const auto train = dm::load_fashion_mnist(flags.data_dir, dm::Split::Train);
    const auto test = dm::load_fashion_mnist(flags.data_dir, dm::Split::Test);
    to.seed = flags.seed;
    to.device = device;
    std::optional<dm::Progress> bar;
    bar.emplace("classifier", (train.images.size(0) / to.batch_size) * to.epochs);
    to.on_progress = [&bar](std::int64_t step, std::int64_t, double loss) { bar->update(step, loss); };
    const auto t0 = std::chrono::steady_clock::now();
    auto model = dm::eval::train_classifier(train, to);
    bar->finish();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double accuracy = dm::eval::classifier_accuracy(model, test);
    fmt::print("test accuracy = {:.2f} % ({} test images), trained in {:.0f} s on {} with {} torch threads\n",
               100 * accuracy, test.images.size(0), seconds, device.str(), torch::get_num_threads());
    // No wall time in the file: the same seed, data, LibTorch and thread count give the same bytes, so the
    // same sha256 (the provenance JSON beside it records the time).
    nlohmann::json meta = {{"accuracy", accuracy},
                           {"test_images", test.images.size(0)},
                           {"seed", to.seed},
                           {"epochs", to.epochs},
                           {"batch_size", to.batch_size},
                           {"lr", to.lr},
                           {"weight_decay", to.weight_decay},
                           {"device", device.str()},
                           {"torch_threads", torch::get_num_threads()},
                           {"torch_version", TORCH_VERSION}};
    dm::eval::save_classifier(model, out, meta);
    fmt::print("wrote {}\n", out);
    return 0;
  });
}
