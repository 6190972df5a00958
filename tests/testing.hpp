// Test helpers shared by every chapter's tests.
//
// tensors_close   compares element-wise with |a - e| <= atol + rtol |e| and, on
//                 failure, prints the first mismatching pairs, the max abs
//                 difference and where it is (llm.c style), not just "false".
// golden          compares a value with the reference solution's output on the
//                 same seeded input, stored in tests/golden/<chapter>.json.
//                 `./course golden` rewrites those files from the solutions
//                 track (DM_RECORD_GOLDEN=1); the solutions track passing the
//                 tests is what proves a golden file current.
// fixed_normal    N(0, 1) numbers from our own generator (mt19937_64 and
//                 Box-Muller), identical on every LibTorch version and device,
//                 so golden inputs never drift with a library upgrade.
// mc_tol          the tolerance of a Monte-Carlo estimate: k standard errors.
// grade_seed      the seed of the run-time inputs: DM_GRADE_SEED, which
//                 `./course grade` draws for every run (and prints), else a
//                 fixed default. Every graded exercise has a test named
//                 ...AtTheGradersSeed whose inputs come from seeded_normal /
//                 seeded_uniform / seeded_steps, so outputs hard-coded for the
//                 fixed inputs of the other tests do not pass it.
#pragma once

#include <gtest/gtest.h>
#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

namespace dm::testing {

::testing::AssertionResult tensors_close(const std::string& label, const torch::Tensor& actual,
                                         const torch::Tensor& expected, double atol = 1e-6, double rtol = 1e-5);
::testing::AssertionResult tensors_close(const std::string& label, const Eigen::ArrayXd& actual,
                                         const Eigen::ArrayXd& expected, double atol = 1e-9, double rtol = 1e-9);

// The golden value `name` in tests/golden/<file>.json, or records `actual` there
// when DM_RECORD_GOLDEN=1 and the test runs on the solutions track.
::testing::AssertionResult golden(const std::string& file, const std::string& name, const torch::Tensor& actual,
                                  double atol = 1e-5, double rtol = 1e-5);
::testing::AssertionResult golden(const std::string& file, const std::string& name, const std::vector<double>& actual,
                                  double atol = 1e-9, double rtol = 1e-9);

// [shape] float32 N(0, 1) from seed, the same everywhere.
torch::Tensor fixed_normal(const std::vector<std::int64_t>& shape, std::uint64_t seed);
// [shape] float32 uniform in [lo, hi) from seed, the same everywhere.
torch::Tensor fixed_uniform(const std::vector<std::int64_t>& shape, std::uint64_t seed, double lo, double hi);

// DM_GRADE_SEED if set (a positive integer), else kDefaultGradeSeed.
inline constexpr std::uint64_t kDefaultGradeSeed = 20261201;
std::uint64_t grade_seed();
// " (grader's seed N)": appended to the failure messages of seeded tests.
std::string seed_note();
// fixed_normal / fixed_uniform at the grader's seed; `salt` keeps the draws of one test apart.
torch::Tensor seeded_normal(const std::vector<std::int64_t>& shape, std::uint64_t salt);
torch::Tensor seeded_uniform(const std::vector<std::int64_t>& shape, std::uint64_t salt, double lo, double hi);
// [n] int64 uniform in lo..hi (both included) at the grader's seed.
torch::Tensor seeded_steps(std::int64_t n, std::int64_t lo, std::int64_t hi, std::uint64_t salt);
// One double uniform in [lo, hi) at the grader's seed.
double seeded_scalar(std::uint64_t salt, double lo, double hi);

// k standard errors of a mean of n draws with standard deviation sigma.
inline double mc_tol(double sigma, std::int64_t n, double k = 5.0) { return k * sigma / std::sqrt(double(n)); }

}  // namespace dm::testing
