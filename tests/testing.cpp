#include "testing.hpp"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "dm/atomic_write.hpp"
#include "dm/runtime.hpp"

namespace dm::testing {

namespace {

// Element-wise comparison of two flat double arrays with a report of where they differ.
::testing::AssertionResult compare(const std::string& label, const std::vector<double>& a, const std::vector<double>& e,
                                   const std::vector<std::int64_t>& shape, double atol, double rtol) {
  if (a.size() != e.size())
    return ::testing::AssertionFailure() << label << ": " << a.size() << " values, expected " << e.size()
                                         << " (shape differs)";
  std::size_t bad = 0, worst = 0;
  double max_diff = 0;
  std::ostringstream first;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = std::abs(a[i] - e[i]);
    const bool ok = d <= atol + rtol * std::abs(e[i]) || (std::isnan(a[i]) && std::isnan(e[i]));
    if (std::isnan(d) ? !std::isnan(max_diff) : d > max_diff) {  // a NaN is the worst
      max_diff = d;
      worst = i;
    }
    if (!ok) {
      if (bad < 5) first << fmt::format("\n    [{}] actual {:.9g}  expected {:.9g}", i, a[i], e[i]);
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  std::string where = std::to_string(worst);
  if (shape.size() > 1) {  // flat index -> multi-index
    std::vector<std::int64_t> idx(shape.size());
    auto rest = static_cast<std::int64_t>(worst);
    for (std::size_t d = shape.size(); d-- > 0;) {
      idx[d] = rest % std::max<std::int64_t>(shape[d], 1);
      rest /= std::max<std::int64_t>(shape[d], 1);
    }
    where = fmt::format("[{}]", fmt::join(idx, ", "));
  }
  return ::testing::AssertionFailure() << fmt::format(
             "{}: {} of {} values differ (atol {:g}, rtol {:g}); max |diff| {:.6g} at {}; first:{}", label, bad,
             a.size(), atol, rtol, max_diff, where, first.str());
}

std::vector<double> to_vector(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kDouble).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

std::string golden_path(const std::string& file) { return std::string(DM_GOLDEN_DIR) + "/" + file + ".json"; }

bool recording() {
  const char* env = std::getenv("DM_RECORD_GOLDEN");
  return env && std::string(env) == "1" && std::string(dm::track()) == "solutions";
}

nlohmann::json load_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) return nlohmann::json::object();
  return nlohmann::json::parse(in);
}

::testing::AssertionResult golden_impl(const std::string& file, const std::string& name,
                                       const std::vector<double>& actual, const std::vector<std::int64_t>& shape,
                                       double atol, double rtol) {
  const auto path = golden_path(file);
  auto doc = load_json(path);
  if (recording()) {
    doc[name] = {{"shape", shape}, {"data", actual}};
    dm::write_file_atomic(path, doc.dump(1) + "\n");
    return ::testing::AssertionSuccess();
  }
  if (!doc.contains(name))
    return ::testing::AssertionFailure() << "no golden value '" << name << "' in " << path
                                         << " (run `./course golden` to record it from the solutions)";
  const auto expected = doc[name]["data"].get<std::vector<double>>();
  const auto expected_shape = doc[name]["shape"].get<std::vector<std::int64_t>>();
  if (expected_shape != shape)
    return ::testing::AssertionFailure() << name << ": shape [" << fmt::format("{}", fmt::join(shape, ", "))
                                         << "], expected [" << fmt::format("{}", fmt::join(expected_shape, ", "))
                                         << "]";
  return compare(name + " (against the reference solution)", actual, expected, shape, atol, rtol);
}

}  // namespace

::testing::AssertionResult tensors_close(const std::string& label, const torch::Tensor& actual,
                                         const torch::Tensor& expected, double atol, double rtol) {
  if (!actual.defined()) return ::testing::AssertionFailure() << label << ": the tensor is undefined";
  if (actual.sizes() != expected.sizes()) {
    std::ostringstream s;
    s << label << ": shape " << actual.sizes() << ", expected " << expected.sizes();
    return ::testing::AssertionFailure() << s.str();
  }
  return compare(label, to_vector(actual), to_vector(expected), actual.sizes().vec(), atol, rtol);
}

::testing::AssertionResult tensors_close(const std::string& label, const Eigen::ArrayXd& actual,
                                         const Eigen::ArrayXd& expected, double atol, double rtol) {
  return compare(label, {actual.data(), actual.data() + actual.size()},
                 {expected.data(), expected.data() + expected.size()}, {actual.size()}, atol, rtol);
}

::testing::AssertionResult golden(const std::string& file, const std::string& name, const torch::Tensor& actual,
                                  double atol, double rtol) {
  if (!actual.defined()) return ::testing::AssertionFailure() << name << ": the tensor is undefined";
  return golden_impl(file, name, to_vector(actual), actual.sizes().vec(), atol, rtol);
}

::testing::AssertionResult golden(const std::string& file, const std::string& name, const std::vector<double>& actual,
                                  double atol, double rtol) {
  return golden_impl(file, name, actual, {static_cast<std::int64_t>(actual.size())}, atol, rtol);
}

torch::Tensor fixed_normal(const std::vector<std::int64_t>& shape, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  auto t = torch::empty(shape, torch::kFloat);
  auto* p = t.data_ptr<float>();
  const auto n = t.numel();
  const double two_pi = 6.283185307179586;
  for (std::int64_t i = 0; i < n; i += 2) {                                  // Box-Muller on our own uniforms
    const double u1 = (static_cast<double>(gen() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
    const double u2 = static_cast<double>(gen() >> 11) * 0x1.0p-53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    p[i] = static_cast<float>(r * std::cos(two_pi * u2));
    if (i + 1 < n) p[i + 1] = static_cast<float>(r * std::sin(two_pi * u2));
  }
  return t;
}

torch::Tensor fixed_uniform(const std::vector<std::int64_t>& shape, std::uint64_t seed, double lo, double hi) {
  std::mt19937_64 gen(seed);
  auto t = torch::empty(shape, torch::kFloat);
  auto* p = t.data_ptr<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i)
    p[i] = static_cast<float>(lo + (hi - lo) * static_cast<double>(gen() >> 11) * 0x1.0p-53);
  return t;
}

std::uint64_t grade_seed() {
  static const std::uint64_t seed = [] {
    const char* env = std::getenv("DM_GRADE_SEED");
    if (!env || !*env) return kDefaultGradeSeed;
    char* end = nullptr;
    const auto v = std::strtoull(env, &end, 10);
    if (*end != '\0' || v == 0) {
      std::fprintf(stderr, "DM_GRADE_SEED='%s' is not a positive integer; using %llu\n", env,
                   static_cast<unsigned long long>(kDefaultGradeSeed));
      return kDefaultGradeSeed;
    }
    return static_cast<std::uint64_t>(v);
  }();
  return seed;
}

std::string seed_note() { return fmt::format(" (grader's seed {})", grade_seed()); }

namespace {
std::uint64_t mix(std::uint64_t salt) {  // splitmix64 of (seed, salt): nearby salts give unrelated streams
  std::uint64_t z = grade_seed() * 0x9E3779B97F4A7C15ULL + salt + 0x632BE59BD9B4E019ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
}  // namespace

torch::Tensor seeded_normal(const std::vector<std::int64_t>& shape, std::uint64_t salt) {
  return fixed_normal(shape, mix(salt));
}

torch::Tensor seeded_uniform(const std::vector<std::int64_t>& shape, std::uint64_t salt, double lo, double hi) {
  return fixed_uniform(shape, mix(salt), lo, hi);
}

torch::Tensor seeded_steps(std::int64_t n, std::int64_t lo, std::int64_t hi, std::uint64_t salt) {
  std::mt19937_64 gen(mix(salt));
  auto t = torch::empty({n}, torch::kLong);
  auto* p = t.data_ptr<std::int64_t>();
  const auto span = static_cast<std::uint64_t>(hi - lo + 1);
  for (std::int64_t i = 0; i < n; ++i) p[i] = lo + static_cast<std::int64_t>(gen() % span);
  return t;
}

double seeded_scalar(std::uint64_t salt, double lo, double hi) {
  std::mt19937_64 gen(mix(salt));
  return lo + (hi - lo) * static_cast<double>(gen() >> 11) * 0x1.0p-53;
}

}  // namespace dm::testing
