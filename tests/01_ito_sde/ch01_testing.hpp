// Helpers of the chapter-01 tests: seeded standard normals as Eigen arrays.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "testing.hpp"

namespace dm::ch01::testutil {

// [rows, cols] i.i.d. N(0, 1) from dm::testing::fixed_normal (our own generator:
// the same numbers with every standard library and LibTorch version).
inline Eigen::ArrayXXd normals(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  const auto t = dm::testing::fixed_normal({static_cast<std::int64_t>(rows * cols)}, seed);
  const float* p = t.data_ptr<float>();
  Eigen::ArrayXXd z(rows, cols);
  for (Eigen::Index i = 0; i < rows * cols; ++i) z.data()[i] = p[i];
  return z;
}

inline std::vector<double> flat(const Eigen::ArrayXXd& a) { return {a.data(), a.data() + a.size()}; }

// Sample variance (1 / n) of a column.
inline double variance(const Eigen::ArrayXd& a) { return (a - a.mean()).square().mean(); }

}  // namespace dm::ch01::testutil
