// FID, KID and k-NN precision/recall on feature matrices (rows are samples).
#include "dm/eval/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
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

namespace {

// The rows per KID subset, min(subset_size, |x|, |y|), after checking the two sets and the subsets.
Eigen::Index kid_subset_rows(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y, int subsets, int subset_size) {
  if (x.cols() != y.cols()) {
    throw UserError("kid: feature dimensions differ (" + std::to_string(x.cols()) + " and " + std::to_string(y.cols()) +
                    ")");
  }
  const Eigen::Index m = std::min<Eigen::Index>({subset_size, x.rows(), y.rows()});
  if (m < 2 || subsets < 1) {
    throw UserError("kid needs at least 2 rows per set and 1 subset (got subsets of " + std::to_string(m) + " rows, " +
                    std::to_string(subsets) + " subsets)");
  }
  return m;
}

}  // namespace

double kid(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y, int subsets, int subset_size, std::uint64_t seed) {
  const Eigen::Index m = kid_subset_rows(x, y, subsets, subset_size);
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

namespace {

// mask[i] = 1 when row i of `queries` lies within radius[j] of some row j of `points`.
std::vector<char> inside_mask(const Eigen::MatrixXd& queries, const Eigen::MatrixXd& points,
                              const Eigen::VectorXd& radii) {
  const Eigen::VectorXd q_sq = queries.rowwise().squaredNorm();
  const Eigen::VectorXd p_sq = points.rowwise().squaredNorm();
  const Eigen::ArrayXd r_sq = radii.array().square();
  std::vector<char> mask(static_cast<std::size_t>(queries.rows()), 0);
  for (Eigen::Index start = 0; start < queries.rows(); start += kBlock) {
    const Eigen::Index rows = std::min(kBlock, queries.rows() - start);
    const Eigen::MatrixXd d =
        squared_distances(queries.middleRows(start, rows), q_sq.segment(start, rows), points, p_sq);
    for (Eigen::Index i = 0; i < rows; ++i) {
      if ((d.row(i).transpose().array() <= r_sq).any()) mask[static_cast<std::size_t>(start + i)] = 1;
    }
  }
  return mask;
}

}  // namespace

double fraction_inside(const Eigen::MatrixXd& queries, const Eigen::MatrixXd& points, const Eigen::VectorXd& radii) {
  if (queries.rows() == 0) return 0.0;
  const auto mask = inside_mask(queries, points, radii);
  const auto inside = std::count(mask.begin(), mask.end(), char{1});
  return static_cast<double>(inside) / static_cast<double>(queries.rows());
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

// ---------------------------------------------------------------- intervals

std::vector<Counts> bootstrap_counts(std::int64_t n, int resamples, std::uint64_t seed) {
  if (n < 1) throw UserError("a bootstrap needs at least 1 row to resample, got " + std::to_string(n));
  if (resamples < 2) {
    throw UserError("a bootstrap interval needs at least 2 resamples, got " + std::to_string(resamples));
  }
  std::mt19937_64 rng(seed);
  const auto span = static_cast<std::uint64_t>(n);
  std::vector<Counts> out(static_cast<std::size_t>(resamples), Counts(static_cast<std::size_t>(n), 0));
  for (auto& c : out) {
    for (std::int64_t i = 0; i < n; ++i) ++c[static_cast<std::size_t>(rng() % span)];
  }
  return out;
}

Interval bootstrap_interval(std::vector<double> replicates, double estimate, double level) {
  if (replicates.size() < 2) {
    throw UserError("a bootstrap interval needs at least 2 replicates, got " + std::to_string(replicates.size()));
  }
  if (!(level > 0.0 && level < 1.0))
    throw UserError("an interval's level must be in (0, 1), got " + std::to_string(level));
  for (double v : replicates) {
    if (!std::isfinite(v))
      throw UserError("a bootstrap replicate of the metric is not finite (" + std::to_string(v) + ")");
  }
  std::sort(replicates.begin(), replicates.end());
  const auto last = replicates.size() - 1;
  auto percentile = [&](double p) {  // linear interpolation between order statistics (numpy's default)
    const double pos = p * static_cast<double>(last);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const auto hi = std::min(lo + 1, last);
    return replicates[lo] + (pos - static_cast<double>(lo)) * (replicates[hi] - replicates[lo]);
  };
  const double mean =
      std::accumulate(replicates.begin(), replicates.end(), 0.0) / static_cast<double>(replicates.size());
  const double shift = estimate - mean;  // removes the resamples' own bias (see the header)
  return {percentile((1.0 - level) / 2.0) + shift, percentile((1.0 + level) / 2.0) + shift};
}

Estimate bootstrap(const ResampledMetric& metric, const std::vector<Counts>& resamples, double level) {
  if (resamples.empty()) throw UserError("bootstrap: no resamples given");
  Estimate e;
  e.value = metric(Counts(resamples.front().size(), 1));
  std::vector<double> replicates;
  replicates.reserve(resamples.size());
  for (const auto& c : resamples) replicates.push_back(metric(c));
  e.ci = bootstrap_interval(std::move(replicates), e.value, level);
  return e;
}

Estimate paired_bootstrap(const ResampledMetric& metric_a, const ResampledMetric& metric_b,
                          const std::vector<Counts>& resamples, double level) {
  if (resamples.empty()) throw UserError("paired_bootstrap: no resamples given");
  const Counts ones(resamples.front().size(), 1);
  Estimate e;
  e.value = metric_a(ones) - metric_b(ones);
  std::vector<double> replicates;
  replicates.reserve(resamples.size());
  for (const auto& c : resamples) replicates.push_back(metric_a(c) - metric_b(c));
  e.ci = bootstrap_interval(std::move(replicates), e.value, level);
  return e;
}

namespace {

void check_counts(const Counts& c, Eigen::Index n, const char* metric) {
  if (static_cast<Eigen::Index>(c.size()) != n) {
    throw UserError(std::string(metric) + ": a resample of " + std::to_string(c.size()) + " rows for a set of " +
                    std::to_string(n));
  }
}

// The cubic polynomial kernel of KID between the rows of a [Na, d] and b [Nb, d] -> [Na, Nb].
Eigen::MatrixXd cubic_kernel(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  Eigen::MatrixXd k = (a * b.transpose()) / static_cast<double>(a.cols());
  k.array() += 1.0;
  return Eigen::MatrixXd(k.array().cube());
}

// MMD^2 of a weighted x (w[i] copies of row i; kernel kxx [m, m], h[i] = mean over the y rows of k(x_i, y))
// against y (its unbiased within term yy). The within-x term averages k over pairs of copies of different
// rows; with all weights 1 it is the unbiased estimator of mmd2_unbiased_cubic. Returns false when w is 0.
bool weighted_mmd2(const Eigen::MatrixXd& kxx, const Eigen::VectorXd& h, double yy, const Eigen::VectorXd& w,
                   double& out) {
  const double total = w.sum();
  if (total <= 0) return false;
  const double w2 = w.squaredNorm();
  const double diag = (w.array().square() * kxx.diagonal().array()).sum();
  const double pairs = total * total - w2;
  // Only copies of a single row: no pair of different rows, so k(x, x) itself (the biased term) stands in.
  const double xx = pairs > 0 ? (w.dot(kxx * w) - diag) / pairs : diag / w2;
  out = xx + yy - 2.0 * w.dot(h) / total;
  return true;
}

struct KidData {
  bool shared = false;                          // every subset holds all rows of x (m == n): one kernel
  std::vector<std::vector<Eigen::Index>> rows;  // per subset, its rows of x (unused when shared)
  std::vector<Eigen::MatrixXd> kxx;             // per subset [m, m] (shared: one [n, n] in x's row order)
  std::vector<Eigen::VectorXd> h;               // per subset [m] (shared: one [n], averaged over the subsets)
  std::vector<double> yy;                       // per subset (shared: one, averaged)
  Eigen::Index n = 0;
};

constexpr Eigen::Index kNeighbourList = 32;  // nearest other fake rows kept per fake row (recall)
constexpr std::size_t kCandidateList = 64;   // fake rows kept per real row, the likeliest to cover it (recall)

double square_of_root(double d2) {  // the squared radius fraction_inside compares with (a radius is sqrt(d2))
  const double r = std::sqrt(d2);
  return r * r;
}

struct RecallData {
  int k = 3;
  Eigen::Index nf = 0, nr = 0, list = 0;
  bool complete = false;            // each fake row's list holds all other rows
  std::vector<Eigen::Index> nbr;    // [nf * list] nearest other fake rows, by ascending distance
  std::vector<double> nbr_d2;       // their squared distances
  std::vector<double> bound_sq;     // per fake row: the largest squared radius the candidate lists cover
  std::vector<std::size_t> offset;  // [nr + 1]: real row r's candidates are [offset[r], offset[r + 1])
  std::vector<Eigen::Index> cand;   // fake rows whose largest ball reaches the real row
  std::vector<double> cand_d2;      // and their squared distances
  std::vector<char> truncated;      // per real row: its candidates were cut to kCandidateList
  Eigen::MatrixXd real, fake;
  Eigen::VectorXd real_sq, fake_sq;

  double dist2(const Eigen::MatrixXd& a, const Eigen::VectorXd& a_sq, Eigen::Index i, const Eigen::MatrixXd& b,
               const Eigen::VectorXd& b_sq, Eigen::Index j) const {
    return std::max(a_sq(i) + b_sq(j) - 2.0 * a.row(i).dot(b.row(j)), 0.0);
  }

  // Squared radius of fake row i in resample c from all distances (when its list runs out of copies).
  double exact_radius_sq(Eigen::Index i, const Counts& c) const {
    std::vector<std::pair<double, Eigen::Index>> row;
    row.reserve(static_cast<std::size_t>(nf));
    for (Eigen::Index j = 0; j < nf; ++j) {
      if (j != i && c[static_cast<std::size_t>(j)] > 0) row.emplace_back(dist2(fake, fake_sq, i, fake, fake_sq, j), j);
    }
    std::sort(row.begin(), row.end());
    std::uint64_t acc = 0;
    for (const auto& [d2, j] : row) {
      acc += c[static_cast<std::size_t>(j)];
      if (acc >= static_cast<std::uint64_t>(k)) return square_of_root(d2);
    }
    return row.empty() ? 0.0 : square_of_root(row.back().first);
  }

  double operator()(const Counts& c) const {
    check_counts(c, nf, "recall");
    std::vector<double> r2(static_cast<std::size_t>(nf), -1.0);  // -1: the row has no copy in this resample
    std::vector<Eigen::Index> overflow;                          // rows whose radius exceeds bound_sq
    for (Eigen::Index i = 0; i < nf; ++i) {
      if (c[static_cast<std::size_t>(i)] == 0) continue;
      std::uint64_t acc = 0;
      Eigen::Index last = -1;
      bool found = false;
      for (Eigen::Index p = 0; p < list; ++p) {
        const auto j = nbr[static_cast<std::size_t>(i * list + p)];
        if (c[static_cast<std::size_t>(j)] == 0) continue;
        acc += c[static_cast<std::size_t>(j)];
        last = p;
        if (acc >= static_cast<std::uint64_t>(k)) {
          r2[static_cast<std::size_t>(i)] = square_of_root(nbr_d2[static_cast<std::size_t>(i * list + p)]);
          found = true;
          break;
        }
      }
      if (found) continue;
      if (complete) {  // fewer than k copies of other rows exist: the ball reaches the farthest of them
        r2[static_cast<std::size_t>(i)] =
            last >= 0 ? square_of_root(nbr_d2[static_cast<std::size_t>(i * list + last)]) : 0.0;
      } else {
        r2[static_cast<std::size_t>(i)] = exact_radius_sq(i, c);
        if (r2[static_cast<std::size_t>(i)] > bound_sq[static_cast<std::size_t>(i)]) overflow.push_back(i);
      }
    }
    std::vector<char> covered(static_cast<std::size_t>(nr), 0);
    for (Eigen::Index r = 0; r < nr; ++r) {
      bool in = false;
      for (std::size_t q = offset[static_cast<std::size_t>(r)]; q < offset[static_cast<std::size_t>(r) + 1] && !in;
           ++q) {
        const double radius_sq = r2[static_cast<std::size_t>(cand[q])];
        in = radius_sq >= 0 && cand_d2[q] <= radius_sq;
      }
      if (!in && truncated[static_cast<std::size_t>(r)]) {  // the kept candidates failed: look at every fake row
        for (Eigen::Index i = 0; i < nf && !in; ++i) {
          const double radius_sq = r2[static_cast<std::size_t>(i)];
          in = radius_sq >= 0 && dist2(real, real_sq, r, fake, fake_sq, i) <= radius_sq;
        }
      }
      covered[static_cast<std::size_t>(r)] = in ? 1 : 0;
    }
    for (const auto i : overflow) {  // balls larger than the candidate lists assumed
      for (Eigen::Index r = 0; r < nr; ++r) {
        if (!covered[static_cast<std::size_t>(r)] &&
            dist2(real, real_sq, r, fake, fake_sq, i) <= r2[static_cast<std::size_t>(i)]) {
          covered[static_cast<std::size_t>(r)] = 1;
        }
      }
    }
    return static_cast<double>(std::count(covered.begin(), covered.end(), char{1})) / static_cast<double>(nr);
  }
};

void check_precision_recall_sizes(const Eigen::MatrixXd& real, const Eigen::MatrixXd& fake, int k) {
  if (real.cols() != fake.cols()) {
    throw UserError("precision_recall: feature dimensions differ (" + std::to_string(real.cols()) + " and " +
                    std::to_string(fake.cols()) + ")");
  }
  if (k < 1 || real.rows() <= k || fake.rows() <= k) {
    throw UserError("precision_recall needs k >= 1 and more than k = " + std::to_string(k) +
                    " rows in each set (real " + std::to_string(real.rows()) + ", fake " + std::to_string(fake.rows()) +
                    ")");
  }
}

}  // namespace

ResampledMetric fid_resampled(const FrechetFn& f, const Eigen::MatrixXd& x, const GaussianStats& reference) {
  if (!f) throw std::logic_error("fid_resampled: no Frechet distance given (chapter 03's exercise 03.5)");
  const GaussianStats full = gaussian_stats(x);  // also checks n >= 2
  if (full.mu.size() != reference.mu.size()) {
    throw UserError("fid: the samples have " + std::to_string(full.mu.size()) + " features, the reference " +
                    std::to_string(reference.mu.size()));
  }
  struct Data {
    FrechetFn f;
    GaussianStats reference;
    Eigen::VectorXd mean;
    Eigen::MatrixXd centred;  // [n, D] rows minus the set's mean
  };
  auto d = std::make_shared<const Data>(Data{f, reference, full.mu, x.rowwise() - full.mu.transpose()});
  return [d](const Counts& c) {
    const Eigen::Index n = d->centred.rows(), dim = d->centred.cols();
    check_counts(c, n, "fid");
    const auto present = static_cast<Eigen::Index>(std::count_if(c.begin(), c.end(), [](auto v) { return v > 0; }));
    Eigen::MatrixXd w(present, dim);  // rows with copies, each scaled by sqrt(copies): w^T w = sum_i c_i x_i x_i^T
    Eigen::RowVectorXd shift = Eigen::RowVectorXd::Zero(dim);  // the resample's mean minus the set's
    for (Eigen::Index i = 0, j = 0; i < n; ++i) {
      const double copies = c[static_cast<std::size_t>(i)];
      if (copies == 0) continue;
      w.row(j++) = std::sqrt(copies) * d->centred.row(i);
      shift += copies * d->centred.row(i);
    }
    shift /= static_cast<double>(n);
    Eigen::MatrixXd lower = Eigen::MatrixXd::Zero(dim, dim);
    lower.selfadjointView<Eigen::Lower>().rankUpdate(w.transpose());  // half the work of w^T w
    Eigen::MatrixXd sigma = lower.selfadjointView<Eigen::Lower>();
    sigma -= static_cast<double>(n) * shift.transpose() * shift;
    sigma /= static_cast<double>(n - 1);  // unbiased, as gaussian_stats
    GaussianStats s{d->mean + shift.transpose(), std::move(sigma), n};
    return frechet_distance(d->f, s, d->reference);
  };
}

ResampledMetric kid_resampled(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y, int subsets, int subset_size,
                              std::uint64_t seed) {
  const Eigen::Index m = kid_subset_rows(x, y, subsets, subset_size);
  auto d = std::make_shared<KidData>();
  d->n = x.rows();
  d->shared = m == x.rows();
  if (d->shared) {
    d->h.assign(1, Eigen::VectorXd::Zero(x.rows()));
    d->yy.assign(1, 0.0);
  }
  std::mt19937_64 rng(seed);  // the same draws, in the same order, as kid()
  for (int s = 0; s < subsets; ++s) {
    const auto xr = draw_rows(x.rows(), m, rng);
    const auto yr = draw_rows(y.rows(), m, rng);
    const Eigen::MatrixXd ys = gather_rows(y, yr);
    const Eigen::MatrixXd kyy = cubic_kernel(ys, ys);
    const double yy = (kyy.sum() - kyy.trace()) / (static_cast<double>(m) * static_cast<double>(m - 1));
    if (d->shared) {  // the subset is all of x, permuted: keep x's row order
      d->h[0] += cubic_kernel(x, ys).rowwise().mean() / static_cast<double>(subsets);
      d->yy[0] += yy / static_cast<double>(subsets);
    } else {
      const Eigen::MatrixXd xs = gather_rows(x, xr);
      d->rows.push_back(xr);
      d->kxx.push_back(cubic_kernel(xs, xs));
      d->h.push_back(cubic_kernel(xs, ys).rowwise().mean());
      d->yy.push_back(yy);
    }
  }
  if (d->shared) d->kxx.push_back(cubic_kernel(x, x));
  return [d](const Counts& c) {
    check_counts(c, d->n, "kid");
    double out = 0;
    if (d->shared) {
      Eigen::VectorXd w(d->n);
      for (Eigen::Index i = 0; i < d->n; ++i) w(i) = c[static_cast<std::size_t>(i)];
      weighted_mmd2(d->kxx[0], d->h[0], d->yy[0], w, out);
      return out;
    }
    double total = 0;
    int used = 0;
    for (std::size_t s = 0; s < d->rows.size(); ++s) {
      const auto& rows = d->rows[s];
      Eigen::VectorXd w(static_cast<Eigen::Index>(rows.size()));
      for (std::size_t j = 0; j < rows.size(); ++j)
        w(static_cast<Eigen::Index>(j)) = c[static_cast<std::size_t>(rows[j])];
      double v = 0;
      if (weighted_mmd2(d->kxx[s], d->h[s], d->yy[s], w, v)) {  // a subset none of whose rows was drawn is left out
        total += v;
        ++used;
      }
    }
    return used > 0 ? total / used : std::numeric_limits<double>::quiet_NaN();
  };
}

ResampledMetric precision_resampled(const Eigen::MatrixXd& fake, const Eigen::MatrixXd& real,
                                    const Eigen::VectorXd& real_radii) {
  if (real.cols() != fake.cols() || real_radii.size() != real.rows()) {
    throw UserError("precision: " + std::to_string(fake.cols()) + " fake features, " + std::to_string(real.cols()) +
                    " real features, " + std::to_string(real_radii.size()) + " radii for " +
                    std::to_string(real.rows()) + " real rows");
  }
  auto mask = std::make_shared<const std::vector<char>>(inside_mask(fake, real, real_radii));
  return [mask](const Counts& c) {
    check_counts(c, static_cast<Eigen::Index>(mask->size()), "precision");
    std::uint64_t inside = 0, total = 0;
    for (std::size_t i = 0; i < c.size(); ++i) {
      total += c[i];
      if ((*mask)[i]) inside += c[i];
    }
    return total == 0 ? 0.0 : static_cast<double>(inside) / static_cast<double>(total);
  };
}

ResampledMetric recall_resampled(const Eigen::MatrixXd& real, const Eigen::MatrixXd& fake, int k) {
  check_precision_recall_sizes(real, fake, k);
  auto d = std::make_shared<RecallData>();
  d->k = k;
  d->nf = fake.rows();
  d->nr = real.rows();
  d->list = std::min<Eigen::Index>(std::max<Eigen::Index>(kNeighbourList, k), d->nf - 1);
  d->complete = d->list == d->nf - 1;
  d->real = real;
  d->fake = fake;
  d->real_sq = real.rowwise().squaredNorm();
  d->fake_sq = fake.rowwise().squaredNorm();
  const auto nf = d->nf, list = d->list;
  d->nbr.resize(static_cast<std::size_t>(nf * list));
  d->nbr_d2.resize(static_cast<std::size_t>(nf * list));
  d->bound_sq.resize(static_cast<std::size_t>(nf));
  std::vector<double> min_sq(static_cast<std::size_t>(nf));  // the smallest radius^2 a row can get
  std::vector<std::pair<double, Eigen::Index>> row(static_cast<std::size_t>(nf - 1));
  // The same blocks as kth_neighbour_radii, so that the resample of all ones gives its radii exactly.
  for (Eigen::Index start = 0; start < nf; start += kBlock) {
    const Eigen::Index rows = std::min(kBlock, nf - start);
    const Eigen::MatrixXd dist =
        squared_distances(fake.middleRows(start, rows), d->fake_sq.segment(start, rows), fake, d->fake_sq);
    for (Eigen::Index a = 0; a < rows; ++a) {
      const Eigen::Index i = start + a;
      std::size_t q = 0;
      for (Eigen::Index j = 0; j < nf; ++j) {
        if (j != i) row[q++] = {dist(a, j), j};
      }
      std::nth_element(row.begin(), row.begin() + (list - 1), row.end());
      std::sort(row.begin(), row.begin() + list);
      for (Eigen::Index p = 0; p < list; ++p) {
        d->nbr[static_cast<std::size_t>(i * list + p)] = row[static_cast<std::size_t>(p)].second;
        d->nbr_d2[static_cast<std::size_t>(i * list + p)] = row[static_cast<std::size_t>(p)].first;
      }
      d->bound_sq[static_cast<std::size_t>(i)] = d->complete
                                                     ? std::numeric_limits<double>::infinity()
                                                     : square_of_root(row[static_cast<std::size_t>(list - 1)].first);
      min_sq[static_cast<std::size_t>(i)] = square_of_root(row[0].first);
    }
  }
  // Candidates of each real row: the fake rows whose largest ball reaches it, the likeliest first (distance
  // relative to the smallest ball); the same blocks as fraction_inside.
  d->offset.assign(1, 0);
  d->truncated.assign(static_cast<std::size_t>(d->nr), 0);
  struct Candidate {
    double key, d2;
    Eigen::Index i;
  };
  std::vector<Candidate> kept;
  for (Eigen::Index start = 0; start < d->nr; start += kBlock) {
    const Eigen::Index rows = std::min(kBlock, d->nr - start);
    const Eigen::MatrixXd dist =
        squared_distances(real.middleRows(start, rows), d->real_sq.segment(start, rows), fake, d->fake_sq);
    for (Eigen::Index a = 0; a < rows; ++a) {
      kept.clear();
      for (Eigen::Index i = 0; i < nf; ++i) {
        const double d2 = dist(a, i);
        if (d2 <= d->bound_sq[static_cast<std::size_t>(i)]) {
          kept.push_back({d2 / std::max(min_sq[static_cast<std::size_t>(i)], 1e-300), d2, i});
        }
      }
      auto by_key = [](const Candidate& u, const Candidate& v) {
        return u.key < v.key || (u.key == v.key && u.i < v.i);
      };
      if (kept.size() > kCandidateList) {
        std::nth_element(kept.begin(), kept.begin() + kCandidateList, kept.end(), by_key);
        kept.resize(kCandidateList);
        d->truncated[static_cast<std::size_t>(start + a)] = 1;
      }
      std::sort(kept.begin(), kept.end(), by_key);
      for (const auto& cnd : kept) {
        d->cand.push_back(cnd.i);
        d->cand_d2.push_back(cnd.d2);
      }
      d->offset.push_back(d->cand.size());
    }
  }
  return [d](const Counts& c) { return (*d)(c); };
}

Estimate fid_with_interval(const FrechetFn& f, const Eigen::MatrixXd& x, const GaussianStats& reference,
                           const BootstrapOptions& options) {
  const auto metric = fid_resampled(f, x, reference);
  return bootstrap(metric, bootstrap_counts(x.rows(), options.resamples, options.seed), options.level);
}

Estimate kid_with_interval(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y, int subsets, int subset_size,
                           std::uint64_t kid_seed, const BootstrapOptions& options) {
  const auto metric = kid_resampled(x, y, subsets, subset_size, kid_seed);
  return bootstrap(metric, bootstrap_counts(x.rows(), options.resamples, options.seed), options.level);
}

PrecisionRecallEstimate precision_recall_with_intervals(const Eigen::MatrixXd& real, const Eigen::MatrixXd& fake, int k,
                                                        const BootstrapOptions& options) {
  check_precision_recall_sizes(real, fake, k);
  const auto resamples = bootstrap_counts(fake.rows(), options.resamples, options.seed);
  PrecisionRecallEstimate out;
  out.precision = bootstrap(precision_resampled(fake, real, kth_neighbour_radii(real, k)), resamples, options.level);
  out.recall = bootstrap(recall_resampled(real, fake, k), resamples, options.level);
  return out;
}

Estimate paired_fid_difference(const FrechetFn& f, const Eigen::MatrixXd& a, const Eigen::MatrixXd& b,
                               const GaussianStats& reference, const BootstrapOptions& options) {
  if (a.rows() != b.rows()) {
    throw UserError("a paired difference needs sets of equal size whose rows are paired (got " +
                    std::to_string(a.rows()) + " and " + std::to_string(b.rows()) + " rows)");
  }
  return paired_bootstrap(fid_resampled(f, a, reference), fid_resampled(f, b, reference),
                          bootstrap_counts(a.rows(), options.resamples, options.seed), options.level);
}

}  // namespace dm::eval
