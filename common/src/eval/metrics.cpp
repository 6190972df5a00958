// FID, KID and k-NN precision/recall on feature matrices (rows are samples).
#include "dm/eval/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "dm/errors.hpp"

namespace dm::eval {

GaussianStats gaussian_stats(const Eigen::MatrixXd& features) {
  const Eigen::Index n = features.rows();
  if (n < 2) {
    throw UserError("gaussian_stats needs at least 2 feature rows to estimate a covariance, got " + std::to_string(n));
  }
  GaussianStats s;
  s.n = n;
  s.mu = features.colwise().mean().transpose();                            // [D]
  const Eigen::MatrixXd centred = features.rowwise() - s.mu.transpose();   // [N, D]
  s.sigma = (centred.transpose() * centred) / static_cast<double>(n - 1);  // [D, D], unbiased
  return s;
}

double frechet_distance(const FrechetFn& f, const GaussianStats& a, const GaussianStats& b) {
  if (a.mu.size() != b.mu.size() || a.sigma.rows() != a.mu.size() || b.sigma.rows() != b.mu.size()) {
    throw UserError("frechet_distance: the two statistics have different dimensions (" + std::to_string(a.mu.size()) +
                    " and " + std::to_string(b.mu.size()) + ")");
  }
  if (!f) throw std::logic_error("frechet_distance: no Frechet distance given (chapter 03's exercise 03.5)");
  return std::max(f(a.mu, a.sigma, b.mu, b.sigma), 0.0);
}

namespace {

// `count` distinct row indices out of [0, n), drawn with `rng`.
std::vector<Eigen::Index> draw_rows(Eigen::Index n, Eigen::Index count, std::mt19937_64& rng) {
  std::vector<Eigen::Index> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), Eigen::Index{0});
  // Partial Fisher-Yates with our own uniform draw (std::shuffle's algorithm is
  // implementation-defined; this keeps the subsets identical across compilers).
  for (Eigen::Index i = 0; i < count; ++i) {
    const auto span = static_cast<std::uint64_t>(n - i);
    const auto j = i + static_cast<Eigen::Index>(rng() % span);
    std::swap(idx[static_cast<std::size_t>(i)], idx[static_cast<std::size_t>(j)]);
  }
  idx.resize(static_cast<std::size_t>(count));
  return idx;
}

Eigen::MatrixXd gather_rows(const Eigen::MatrixXd& x, const std::vector<Eigen::Index>& rows) {
  Eigen::MatrixXd out(static_cast<Eigen::Index>(rows.size()), x.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) out.row(static_cast<Eigen::Index>(i)) = x.row(rows[i]);
  return out;
}

// Unbiased MMD^2 between equally sized x, y [m, d] with k(a, b) = (a.b / d + 1)^3.
double mmd2_unbiased_cubic(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y) {
  const double m = static_cast<double>(x.rows());
  const double d = static_cast<double>(x.cols());
  auto kernel = [d](const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
    Eigen::MatrixXd k = (a * b.transpose()) / d;  // [m, m]
    k.array() += 1.0;
    return Eigen::MatrixXd(k.array().cube());
  };
  const Eigen::MatrixXd kxx = kernel(x, x);
  const Eigen::MatrixXd kyy = kernel(y, y);
  const Eigen::MatrixXd kxy = kernel(x, y);
  // Off-diagonal means for the within-set terms (the diagonal k(x_i, x_i) biases them).
  const double xx = (kxx.sum() - kxx.trace()) / (m * (m - 1));
  const double yy = (kyy.sum() - kyy.trace()) / (m * (m - 1));
  const double xy = kxy.sum() / (m * m);
  return xx + yy - 2.0 * xy;
}

}  // namespace

double kid(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y, int subsets, int subset_size, std::uint64_t seed) {
  if (x.cols() != y.cols()) {
    throw UserError("kid: feature dimensions differ (" + std::to_string(x.cols()) + " and " + std::to_string(y.cols()) +
                    ")");
  }
  const Eigen::Index m = std::min<Eigen::Index>({subset_size, x.rows(), y.rows()});
  if (m < 2 || subsets < 1) {
    throw UserError("kid needs at least 2 rows per set and 1 subset (got subsets of " + std::to_string(m) + " rows, " +
                    std::to_string(subsets) + " subsets)");
  }
  std::mt19937_64 rng(seed);
  double total = 0;
  for (int s = 0; s < subsets; ++s) {
    const Eigen::MatrixXd xs = gather_rows(x, draw_rows(x.rows(), m, rng));
    const Eigen::MatrixXd ys = gather_rows(y, draw_rows(y.rows(), m, rng));
    total += mmd2_unbiased_cubic(xs, ys);
  }
  return total / subsets;
}

namespace {

constexpr Eigen::Index kBlock = 512;  // rows per distance block: 512 x 10k doubles = 40 MB

// Squared Euclidean distances between rows of a [Na, D] and b [Nb, D] (block of a).
Eigen::MatrixXd squared_distances(const Eigen::MatrixXd& a, const Eigen::VectorXd& a_sq, const Eigen::MatrixXd& b,
                                  const Eigen::VectorXd& b_sq) {
  Eigen::MatrixXd d = -2.0 * (a * b.transpose());  // [Na, Nb]
  d.colwise() += a_sq;
  d.rowwise() += b_sq.transpose();
  return d.cwiseMax(0.0);
}

}  // namespace

Eigen::VectorXd kth_neighbour_radii(const Eigen::MatrixXd& points, int k) {
  const Eigen::Index n = points.rows();
  if (k < 1 || k >= n) {
    throw UserError("k-NN radii need 1 <= k < number of points (k = " + std::to_string(k) +
                    ", points = " + std::to_string(n) + ")");
  }
  const Eigen::VectorXd sq = points.rowwise().squaredNorm();
  Eigen::VectorXd radii(n);
  std::vector<double> row(static_cast<std::size_t>(n));
  for (Eigen::Index start = 0; start < n; start += kBlock) {
    const Eigen::Index rows = std::min(kBlock, n - start);
    const Eigen::MatrixXd d = squared_distances(points.middleRows(start, rows), sq.segment(start, rows), points, sq);
    for (Eigen::Index i = 0; i < rows; ++i) {
      for (Eigen::Index j = 0; j < n; ++j) row[static_cast<std::size_t>(j)] = d(i, j);
      row[static_cast<std::size_t>(start + i)] = -1.0;  // the point itself sorts first and is skipped
      // Element k (0-based) after the self entry at 0 is the k-th nearest other point.
      std::nth_element(row.begin(), row.begin() + k, row.end());
      radii(start + i) = std::sqrt(row[static_cast<std::size_t>(k)]);
    }
  }
  return radii;
}

double fraction_inside(const Eigen::MatrixXd& queries, const Eigen::MatrixXd& points, const Eigen::VectorXd& radii) {
  const Eigen::VectorXd q_sq = queries.rowwise().squaredNorm();
  const Eigen::VectorXd p_sq = points.rowwise().squaredNorm();
  const Eigen::ArrayXd r_sq = radii.array().square();
  Eigen::Index inside = 0;
  for (Eigen::Index start = 0; start < queries.rows(); start += kBlock) {
    const Eigen::Index rows = std::min(kBlock, queries.rows() - start);
    const Eigen::MatrixXd d =
        squared_distances(queries.middleRows(start, rows), q_sq.segment(start, rows), points, p_sq);
    for (Eigen::Index i = 0; i < rows; ++i) {
      if ((d.row(i).transpose().array() <= r_sq).any()) ++inside;
    }
  }
  return queries.rows() == 0 ? 0.0 : static_cast<double>(inside) / static_cast<double>(queries.rows());
}

PrecisionRecall precision_recall(const Eigen::MatrixXd& real, const Eigen::MatrixXd& fake, int k) {
  if (real.cols() != fake.cols()) {
    throw UserError("precision_recall: feature dimensions differ (" + std::to_string(real.cols()) + " and " +
                    std::to_string(fake.cols()) + ")");
  }
  if (real.rows() <= k || fake.rows() <= k) {
    throw UserError("precision_recall needs more than k = " + std::to_string(k) + " rows in each set (real " +
                    std::to_string(real.rows()) + ", fake " + std::to_string(fake.rows()) + ")");
  }
  PrecisionRecall pr;
  pr.precision = fraction_inside(fake, real, kth_neighbour_radii(real, k));
  pr.recall = fraction_inside(real, fake, kth_neighbour_radii(fake, k));
  return pr;
}

}  // namespace dm::eval
