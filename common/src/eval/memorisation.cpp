// Nearest training images of samples and of held-out test images, in the classifier's feature space.
#include "dm/eval/memorisation.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <torch/torch.h>

#include "dm/errors.hpp"

namespace dm::eval {

namespace {

// For each row of q, the distance to and the index of its nearest row of ref (blocks of 256 rows).
void nearest_rows(const torch::Tensor& q, const torch::Tensor& ref, std::vector<double>& dist,
                  std::vector<std::int64_t>& idx) {
  dist.clear();
  idx.clear();
  for (std::int64_t i = 0; i < q.size(0); i += 256) {
    const auto block = q.narrow(0, i, std::min<std::int64_t>(256, q.size(0) - i));
    const auto d = torch::cdist(block, ref);  // [b, N]
    const auto [mn, arg] = d.min(/*dim=*/1);
    for (std::int64_t k = 0; k < mn.size(0); ++k) {
      dist.push_back(mn[k].item<double>());
      idx.push_back(arg[k].item<std::int64_t>());
    }
  }
}

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - double(lo)) * (v[hi] - v[lo]);
}

}  // namespace

Memorisation memorisation_check(const Evaluator& evaluator, const torch::Tensor& samples,
                                const torch::Tensor& train_images, const torch::Tensor& test_images) {
  const auto n = samples.size(0);
  if (n < 2 || test_images.size(0) < n)
    throw UserError(fmt::format("memorisation_check: need at least 2 samples and as many test images, got {} and {}", n,
                                test_images.size(0)));
  torch::NoGradGuard no_grad;
  const auto train = evaluator.features(train_images).to(torch::kFloat64);              // [N, 128]
  const auto fs = evaluator.features(samples).to(torch::kFloat64);                      // [n, 128]
  const auto ft = evaluator.features(test_images.narrow(0, 0, n)).to(torch::kFloat64);  // [n, 128]
  Memorisation m;
  m.n = n;
  nearest_rows(fs, train, m.sample_distance, m.nearest);
  std::vector<std::int64_t> unused;
  nearest_rows(ft, train, m.test_distance, unused);
  m.sample_median = quantile(m.sample_distance, 0.5);
  m.test_median = quantile(m.test_distance, 0.5);
  m.test_p01 = quantile(m.test_distance, 0.01);
  m.closer_than_test_p01 = double(std::count_if(m.sample_distance.begin(), m.sample_distance.end(),
                                                [&](double d) { return d < m.test_p01; })) /
                           double(n);
  return m;
}

std::string Memorisation::summary() const {
  return fmt::format(
      "memorisation: nearest training image in feature space, median distance {:.2f} for the {} samples vs {:.2f} "
      "for {} held-out test images; {:.1f} % of samples are nearer than the test images' 1st percentile ({:.2f})",
      sample_median, n, test_median, n, 100 * closer_than_test_p01, test_p01);
}

nlohmann::json Memorisation::to_json() const {
  return {{"n", n},
          {"sample_median", sample_median},
          {"test_median", test_median},
          {"test_p01", test_p01},
          {"closer_than_test_p01", closer_than_test_p01}};
}

}  // namespace dm::eval
