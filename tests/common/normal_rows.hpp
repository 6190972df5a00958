// Seeded Gaussian feature rows for the evaluation tests (metrics, bootstrap, evaluator).
#pragma once

#include <cstdint>
#include <random>

#include <Eigen/Dense>

namespace dm::testing {

// [n, d] rows of N(mean, sd^2) from a seeded generator (the same on every platform's libstdc++).
inline Eigen::MatrixXd normal_rows(Eigen::Index n, Eigen::Index d, std::uint64_t seed, double mean = 0.0,
                                   double sd = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(mean, sd);
  Eigen::MatrixXd x(n, d);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < d; ++j) x(i, j) = g(rng);
  return x;
}

}  // namespace dm::testing
