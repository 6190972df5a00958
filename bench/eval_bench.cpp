// The evaluation's wall time (dm::eval::Evaluator::evaluate) with its bootstrap intervals, against the
// point estimates alone (what evaluate computed before it had intervals), at several n.
//
//   build/default/bin/bench_eval --threads 1 --n 250,10000
//
// Each n evaluates its first n training images (real images: the metrics' work does not depend on what
// the images show) with a fresh Evaluator, loaded from runs/cache, so the time includes the floor at
// that n, as in a chapter program. "points only" repeats the metrics on the same features without
// intervals: gaussian_stats and the Fréchet distance for the samples and for the floor, kid() and
// precision_recall(). Its features are computed once more and timed apart.
#include <ATen/Parallel.h>
#include <fmt/core.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <vector>

#include "03_ddpm/frechet.hpp"
#include "dm/data/fashion_mnist.hpp"
#include "dm/eval/evaluator.hpp"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1, resamples = 0, spread = 0;
  bool quick = false;
  std::vector<std::int64_t> sizes = {250, 10000};
  std::string cache = "runs/cache";
  CLI::App app{"Wall time of the evaluation with and without its bootstrap intervals"};
  app.add_option("--threads", threads, "intra-op threads")->capture_default_str();
  app.add_option("--n", sizes, "sample sizes, e.g. 250,10000")->delimiter(',')->capture_default_str();
  app.add_option("--resamples", resamples, "bootstrap resamples (0: the default)")->capture_default_str();
  app.add_flag("--quick", quick, "the --quick evaluation (KID on 3 subsets, 100 resamples)");
  app.add_option("--cache", cache, "the classifier cache folder")->capture_default_str();
  app.add_option("--spread", spread,
                 "also: FID of this many disjoint sets of n training images (plain and 3x3-blurred), their spread "
                 "against the bootstrap interval of one set")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  at::set_num_threads(threads);
  const auto train = dm::load_fashion_mnist("", dm::Split::Train);
  fmt::print("{:>6} {:>10} {:>14} {:>14} {:>10}\n", "n", "resamples", "evaluate s", "points only s", "features s");
  for (const auto n : sizes) {
    dm::eval::EvalOptions eo;
    eo.cache_dir = cache;
    eo.verbose = false;
    eo.quick = quick;
    eo.resamples = resamples;
    eo.frechet = dm::ch03::frechet_distance;
    const dm::eval::Evaluator ev(eo);
    const auto images = train.images.narrow(0, 0, n);
    auto t0 = std::chrono::steady_clock::now();
    const auto r = ev.evaluate(images);
    const double with_ci = seconds_since(t0);

    // The same metrics without intervals, on features computed (and timed) apart.
    const dm::eval::Evaluator plain(eo);
    t0 = std::chrono::steady_clock::now();
    const Eigen::MatrixXd feats = dm::eval::to_matrix(plain.features(images));
    const auto rows = dm::eval::floor_training_rows(train.images.size(0), n);
    const auto floor_images = train.images.index_select(0, torch::tensor(rows, torch::kLong));
    const Eigen::MatrixXd floor_feats = dm::eval::to_matrix(plain.features(floor_images));
    const double features_s = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    const auto& ref = plain.reference_stats();
    const double fid = dm::eval::frechet_distance(eo.frechet, dm::eval::gaussian_stats(feats), ref);
    const double floor = dm::eval::frechet_distance(eo.frechet, dm::eval::gaussian_stats(floor_feats), ref);
    const double kid = dm::eval::kid(feats, plain.reference_features(), quick ? 3 : 10, 1000, 0);
    const auto pr = dm::eval::precision_recall(plain.reference_features().topRows(n), feats, 3);
    const double points = seconds_since(t0) + features_s;
    fmt::print("{:>6} {:>10} {:>14.2f} {:>14.2f} {:>10.2f}   FID {:.2f} / {:.2f}, floor {:.2f}, KID {:.4f}, P {:.2f}\n",
               n, r.resamples, with_ci, points, features_s, r.fid, fid, floor, kid, pr.precision);
    // Where the intervals' time goes: each metric with its interval, on the same features.
    const auto resample = dm::eval::bootstrap_counts(n, r.resamples, 1);
    auto timed = [&](const char* what, const auto& make) {
      const auto t = std::chrono::steady_clock::now();
      const auto metric = make();
      const double setup = seconds_since(t);
      const auto e = dm::eval::bootstrap(metric, resample);
      fmt::print("         {:<10} setup {:>7.2f} s, {} resamples {:>7.2f} s   {:.4f} [{:.4f}, {:.4f}]\n", what, setup,
                 r.resamples, seconds_since(t) - setup, e.value, e.ci.lo, e.ci.hi);
    };
    timed("FID", [&] { return dm::eval::fid_resampled(eo.frechet, feats, ref); });
    timed("KID", [&] { return dm::eval::kid_resampled(feats, plain.reference_features(), quick ? 3 : 10, 1000, 0); });
    const Eigen::MatrixXd real = plain.reference_features().topRows(n);
    timed("precision",
          [&] { return dm::eval::precision_resampled(feats, real, dm::eval::kth_neighbour_radii(real, 3)); });
    timed("recall", [&] { return dm::eval::recall_resampled(real, feats, 3); });
    std::fflush(stdout);
    if (spread < 2 || spread * n > train.images.size(0)) continue;
    // The spread over seeds: disjoint sets of n training images, each FID against the test set, next to
    // the bootstrap interval of the first set alone. A calibrated 95 % interval is about as wide as the
    // central 95 % of the spread (here estimated by mean +- 1.96 sd of the sets' FIDs).
    const auto perm = torch::randperm(train.images.size(0), torch::TensorOptions(torch::kLong));
    for (const bool blur : {false, true}) {
      std::vector<double> fids;
      dm::eval::Interval first;
      for (int k = 0; k < spread; ++k) {
        auto x = train.images.index_select(0, perm.narrow(0, k * n, n));
        if (blur) x = torch::avg_pool2d(x, 3, 1, 1, false, false);
        const Eigen::MatrixXd f = dm::eval::to_matrix(plain.features(x));
        const auto e = dm::eval::bootstrap(dm::eval::fid_resampled(eo.frechet, f, ref), resample);
        fids.push_back(e.value);
        if (k == 0) first = e.ci;
      }
      double mean = 0, var = 0;
      for (double v : fids) mean += v / spread;
      for (double v : fids) var += (v - mean) * (v - mean) / (spread - 1);
      const double sd = std::sqrt(var);
      int covered = 0;
      for (double v : fids) covered += first.contains(v) ? 1 : 0;
      fmt::print(
          "         {} sets of {} {}: FID mean {:.3f}, sd {:.3f} (mean +- 1.96 sd: [{:.3f}, {:.3f}], width {:.3f}); "
          "first set's bootstrap interval [{:.3f}, {:.3f}], width {:.3f}, holds {} of the {} FIDs\n",
          spread, n, blur ? "blurred images" : "training images", mean, sd, mean - 1.96 * sd, mean + 1.96 * sd,
          3.92 * sd, first.lo, first.hi, first.width(), covered, spread);
      std::fflush(stdout);
    }
  }
  return 0;
}
