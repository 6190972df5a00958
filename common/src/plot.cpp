// Figures drawn with OpenCV only: a matplotlib-like look (white background,
// tab10 colours, 1-2-5 ticks, decade ticks on log axes, a legend placed where
// it hides the least data), anti-aliased with sub-pixel precision.
//
// Layout of a figure (pixels):
//   +------------------- title -------------------+
//   | y   +-------------------------------+       |
//   | l   | plot area (series, grid,      |       |
//   | a   |   legend)                     |       |
//   | b   +-------------------------------+       |
//   |       ticks, tick labels, x label           |
//   +---------------------------------------------+
// Data are mapped through the axis transform (identity or log10) first; limits,
// margins and ticks all live in that transformed space.
#include "dm/plot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string_view>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "dm/atomic_write.hpp"
#include "dm/errors.hpp"

namespace dm {

namespace {

// ---------------------------------------------------------------- look

// matplotlib's tab10, as BGR.
const std::array<cv::Scalar, 10> kPalette = {
    cv::Scalar(180, 119, 31),  cv::Scalar(14, 127, 255), cv::Scalar(44, 160, 44),   cv::Scalar(40, 39, 214),
    cv::Scalar(189, 103, 148), cv::Scalar(75, 86, 140),  cv::Scalar(194, 119, 227), cv::Scalar(127, 127, 127),
    cv::Scalar(34, 189, 188),  cv::Scalar(207, 190, 23)};

const cv::Scalar kWhite(255, 255, 255);
const cv::Scalar kText(30, 30, 30);
const cv::Scalar kSpine(60, 60, 60);
const cv::Scalar kGrid(232, 232, 232);
const cv::Scalar kLegendBorder(200, 200, 200);

constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
constexpr double kTickScale = 0.45;  // tick labels, legend
constexpr double kLabelScale = 0.5;  // axis labels
constexpr double kTitleScale = 0.6;  // title
constexpr int kTickLen = 5;
constexpr int kShift = 4;             // sub-pixel bits for cv drawing
constexpr double kSub = 1 << kShift;  // 16
constexpr double kDashOn = 9, kDashOff = 6;
constexpr double kHistAlpha = 0.45;  // histogram fill when the style says opaque

cv::Size text_size(const std::string& s, double scale, int thickness = 1, int* baseline = nullptr) {
  int b = 0;
  auto sz = cv::getTextSize(s, kFont, scale, thickness, &b);
  if (baseline) *baseline = b;
  return sz;
}

// Text whose top-left corner of the ink box is at `tl`.
void put_text(cv::Mat& img, const std::string& s, cv::Point tl, double scale, const cv::Scalar& color,
              int thickness = 1) {
  const auto sz = text_size(s, scale, thickness);
  cv::putText(img, s, cv::Point(tl.x, tl.y + sz.height), kFont, scale, color, thickness, cv::LINE_AA);
}

// Text rotated by 90 degrees (reading bottom to top), centred on `center`.
void put_text_vertical(cv::Mat& img, const std::string& s, cv::Point center, double scale, const cv::Scalar& color) {
  int base = 0;
  const auto sz = text_size(s, scale, 1, &base);
  cv::Mat tile(sz.height + base + 4, sz.width + 4, CV_8UC3, kWhite);
  cv::putText(tile, s, cv::Point(2, sz.height + 2), kFont, scale, color, 1, cv::LINE_AA);
  cv::Mat rot;
  cv::rotate(tile, rot, cv::ROTATE_90_COUNTERCLOCKWISE);
  cv::Rect r(center.x - rot.cols / 2, center.y - rot.rows / 2, rot.cols, rot.rows);
  const cv::Rect clipped = r & cv::Rect(0, 0, img.cols, img.rows);
  if (clipped.empty()) return;
  cv::Mat dst = img(clipped);
  cv::Mat src = rot(cv::Rect(clipped.x - r.x, clipped.y - r.y, clipped.width, clipped.height));
  cv::min(dst, src, dst);  // dark text over a light background
}

// ---------------------------------------------------------------- numbers

bool finite(double v) { return std::isfinite(v); }

// "2.5e-5", "1e6": the shortest scientific form.
std::string sci(double v, int digits = 3) {
  if (v == 0) return "0";
  int e = static_cast<int>(std::floor(std::log10(std::abs(v))));
  double m = v / std::pow(10.0, e);
  std::string ms = fmt::format("{:.{}f}", m, digits - 1);
  if (ms.find('.') != std::string::npos) {
    while (ms.back() == '0') ms.pop_back();
    if (ms.back() == '.') ms.pop_back();
  }
  if (ms == "10" || ms == "-10") {  // rounding pushed the mantissa to 10
    ms = v < 0 ? "-1" : "1";
    ++e;
  }
  return ms + "e" + std::to_string(e);
}

// A step of 1, 2 or 5 times a power of ten giving about `target` intervals.
double nice_step(double range, int target) {
  const double raw = range / std::max(target, 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

struct Ticks {
  std::vector<double> major;  // in transformed coordinates
  std::vector<std::string> labels;
  std::vector<double> minor;
};

// Linear ticks over [lo, hi] in value space; `pos` maps a value to the axis.
Ticks linear_ticks(double lo, double hi, int target, bool log_positions) {
  Ticks t;
  if (!(hi > lo)) return t;
  const double step = nice_step(hi - lo, target);
  const double first = std::ceil(lo / step - 1e-9) * step;
  double max_abs = 0;
  std::vector<double> values;
  for (int i = 0; i < 100; ++i) {
    double v = first + i * step;
    if (v > hi + step * 1e-9) break;
    if (std::abs(v) < step * 1e-9) v = 0;
    values.push_back(v);
    max_abs = std::max(max_abs, std::abs(v));
  }
  const bool scientific = max_abs >= 1e5 || (max_abs > 0 && max_abs < 1e-3);
  const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  for (double v : values) {
    if (log_positions && v <= 0) continue;
    t.major.push_back(log_positions ? std::log10(v) : v);
    t.labels.push_back(scientific ? sci(v) : fmt::format("{:.{}f}", v, decimals));
  }
  return t;
}

// Ticks of a log10 axis over [lo, hi] (in log10 units).
Ticks log_ticks(double lo, double hi, int target) {
  const int d0 = static_cast<int>(std::ceil(lo - 1e-9)), d1 = static_cast<int>(std::floor(hi + 1e-9));
  const int count = d1 - d0 + 1;
  if (count < 2) {
    // Less than a decade or so: linear 1-2-5 values, placed on the log axis.
    return linear_ticks(std::pow(10.0, lo), std::pow(10.0, hi), std::max(target / 2, 3), true);
  }
  Ticks t;
  const int stride = (count + target - 1) / target;
  bool plain = true;
  for (int d = d0; d <= d1; ++d)
    if (d % stride == 0 && (d < -2 || d > 3)) plain = false;
  for (int d = d0; d <= d1; ++d) {
    if (d % stride != 0) continue;
    t.major.push_back(d);
    t.labels.push_back(plain ? fmt::format("{:g}", std::pow(10.0, d)) : "1e" + std::to_string(d));
  }
  if (stride == 1) {
    for (int d = d0 - 1; d <= d1; ++d)
      for (int k = 2; k <= 9; ++k) {
        const double p = d + std::log10(double(k));
        if (p >= lo && p <= hi) t.minor.push_back(p);
      }
  }
  return t;
}

// ---------------------------------------------------------------- drawing

// Liang-Barsky: clips the segment a-b to `box`; false when nothing is left.
bool clip_segment(cv::Point2d& a, cv::Point2d& b, const cv::Rect2d& box) {
  double t0 = 0, t1 = 1;
  const double dx = b.x - a.x, dy = b.y - a.y;
  const double p[4] = {-dx, dx, -dy, dy};
  const double q[4] = {a.x - box.x, box.x + box.width - a.x, a.y - box.y, box.y + box.height - a.y};
  for (int i = 0; i < 4; ++i) {
    if (p[i] == 0) {
      if (q[i] < 0) return false;
    } else {
      const double r = q[i] / p[i];
      if (p[i] < 0) {
        if (r > t1) return false;
        t0 = std::max(t0, r);
      } else {
        if (r < t0) return false;
        t1 = std::min(t1, r);
      }
    }
  }
  const cv::Point2d a0 = a;
  a = a0 + t0 * cv::Point2d(dx, dy);
  b = a0 + t1 * cv::Point2d(dx, dy);
  return true;
}

cv::Point fixed(const cv::Point2d& p) {
  return {static_cast<int>(std::lround(p.x * kSub)), static_cast<int>(std::lround(p.y * kSub))};
}

// A polyline (NaN vertices break it), solid or dashed, clipped to the image
// (with a few pixels to spare so thick lines end cleanly).
void draw_polyline(cv::Mat& img, const std::vector<cv::Point2d>& pts, const cv::Scalar& color, int thickness,
                   bool dashed) {
  const cv::Rect2d box(-10, -10, img.cols + 20, img.rows + 20);
  double phase = 0;  // arc length into the dash pattern, carried across vertices
  for (size_t i = 1; i < pts.size(); ++i) {
    cv::Point2d a = pts[i - 1], b = pts[i];
    if (!finite(a.x) || !finite(a.y) || !finite(b.x) || !finite(b.y)) {
      phase = 0;
      continue;
    }
    const double full = cv::norm(b - a);
    const cv::Point2d a_orig = a;
    if (!clip_segment(a, b, box)) {
      phase += full;
      continue;
    }
    if (!dashed) {
      cv::line(img, fixed(a), fixed(b), color, thickness, cv::LINE_AA, kShift);
      continue;
    }
    const double len = cv::norm(b - a);
    if (len <= 0) continue;
    const cv::Point2d dir = (b - a) / len;
    double s = phase + cv::norm(a - a_orig);  // where the clipped piece starts in the pattern
    double along = 0;
    while (along < len) {
      const double in_period = std::fmod(s, kDashOn + kDashOff);
      const bool on = in_period < kDashOn;
      const double left = on ? kDashOn - in_period : kDashOn + kDashOff - in_period;
      const double piece = std::min(left, len - along);
      if (on && piece > 0.3)
        cv::line(img, fixed(a + along * dir), fixed(a + (along + piece) * dir), color, thickness, cv::LINE_AA, kShift);
      along += piece;
      s += piece;
    }
    phase += full;
  }
}

// img = img (1 - alpha m) + color alpha m, m = mask / 255 (mask CV_8UC1, same size).
void blend_mask(cv::Mat& img, const cv::Mat& mask, const cv::Scalar& color, double alpha) {
  for (int r = 0; r < img.rows; ++r) {
    auto* p = img.ptr<cv::Vec3b>(r);
    const auto* m = mask.ptr<std::uint8_t>(r);
    for (int c = 0; c < img.cols; ++c) {
      if (!m[c]) continue;
      const double a = alpha * m[c] / 255.0;
      for (int k = 0; k < 3; ++k) p[c][k] = cv::saturate_cast<std::uint8_t>(p[c][k] + (color[k] - p[c][k]) * a);
    }
  }
}

// Filled anti-aliased dots; with alpha < 1 each dot is blended on its own, so
// dense regions of a point cloud come out darker (as in matplotlib).
void draw_points(cv::Mat& img, const std::vector<cv::Point2d>& pts, const cv::Scalar& color, int radius, double alpha) {
  const int half = radius + 2;
  cv::Mat stamp(2 * half + 1, 2 * half + 1, CV_8UC1);
  for (const auto& p : pts) {
    if (!finite(p.x) || !finite(p.y)) continue;
    if (p.x < -half || p.y < -half || p.x > img.cols + half || p.y > img.rows + half) continue;
    if (alpha >= 1) {
      cv::circle(img, fixed(p), static_cast<int>(radius * kSub), color, cv::FILLED, cv::LINE_AA, kShift);
      continue;
    }
    const int cx = static_cast<int>(std::floor(p.x)), cy = static_cast<int>(std::floor(p.y));
    stamp.setTo(0);
    cv::circle(stamp, fixed(cv::Point2d(p.x - cx + half, p.y - cy + half)), static_cast<int>(radius * kSub),
               cv::Scalar(255), cv::FILLED, cv::LINE_AA, kShift);
    const cv::Rect r(cx - half, cy - half, stamp.cols, stamp.rows);
    const cv::Rect clipped = r & cv::Rect(0, 0, img.cols, img.rows);
    if (clipped.empty()) continue;
    cv::Mat dst = img(clipped);
    blend_mask(dst, stamp(cv::Rect(clipped.x - r.x, clipped.y - r.y, clipped.width, clipped.height)), color, alpha);
  }
}

void fill_rect_alpha(cv::Mat& img, cv::Rect r, const cv::Scalar& color, double alpha) {
  r &= cv::Rect(0, 0, img.cols, img.rows);
  if (r.empty()) return;
  cv::Mat roi = img(r);
  cv::Mat solid(roi.size(), roi.type(), color);
  cv::addWeighted(roi, 1 - alpha, solid, alpha, 0, roi);
}

struct Density {
  std::vector<double> edges, height;
};

Density histogram_density(const std::vector<double>& samples, int bins) {
  Density d;
  bins = std::max(bins, 1);
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  std::size_t n = 0;
  for (double v : samples)
    if (finite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      ++n;
    }
  if (n == 0) return d;
  if (hi - lo <= 0) {
    lo -= 0.5;
    hi += 0.5;
  }
  const double w = (hi - lo) / bins;
  std::vector<double> counts(bins, 0.0);
  for (double v : samples)
    if (finite(v)) counts[std::min(bins - 1, static_cast<int>((v - lo) / w))] += 1;
  for (int i = 0; i <= bins; ++i) d.edges.push_back(lo + i * w);
  for (int i = 0; i < bins; ++i) d.height.push_back(counts[i] / (double(n) * w));  // integrates to 1
  return d;
}

}  // namespace

// ================================================================= Figure

Figure::Figure(std::string title, std::string xlabel, std::string ylabel, int width, int height)
    : title_(std::move(title)),
      xlabel_(std::move(xlabel)),
      ylabel_(std::move(ylabel)),
      width_(std::max(width, 160)),
      height_(std::max(height, 120)) {}

Figure& Figure::line(const std::vector<double>& x, const std::vector<double>& y, const std::string& label,
                     Style style) {
  if (x.size() != y.size())
    throw std::invalid_argument(
        fmt::format("Figure::line(\"{}\"): x has {} values, y has {}", label, x.size(), y.size()));
  series_.push_back({Series::Kind::Line, x, y, label, style, 0, {}, {}});
  return *this;
}

Figure& Figure::scatter(const std::vector<double>& x, const std::vector<double>& y, const std::string& label,
                        Style style) {
  if (x.size() != y.size())
    throw std::invalid_argument(
        fmt::format("Figure::scatter(\"{}\"): x has {} values, y has {}", label, x.size(), y.size()));
  if (style.marker_radius <= 0) style.marker_radius = 2;
  series_.push_back({Series::Kind::Scatter, x, y, label, style, 0, {}, {}});
  return *this;
}

Figure& Figure::errors(const std::vector<double>& lo, const std::vector<double>& hi) {
  if (series_.empty() || series_.back().kind == Series::Kind::Histogram)
    throw std::invalid_argument("Figure::errors: add a line or a scatter first");
  auto& s = series_.back();
  if (lo.size() != s.x.size() || hi.size() != s.x.size())
    throw std::invalid_argument(fmt::format("Figure::errors(\"{}\"): {} points, {} lows and {} highs", s.label,
                                            s.x.size(), lo.size(), hi.size()));
  s.lo = lo;
  s.hi = hi;
  return *this;
}

Figure& Figure::histogram(const std::vector<double>& samples, int bins, const std::string& label, Style style) {
  series_.push_back({Series::Kind::Histogram, samples, {}, label, style, std::max(bins, 1), {}, {}});
  return *this;
}

Figure& Figure::logx(bool on) {
  logx_ = on;
  return *this;
}
Figure& Figure::logy(bool on) {
  logy_ = on;
  return *this;
}
Figure& Figure::xlim(double lo, double hi) {
  has_xlim_ = finite(lo) && finite(hi) && hi > lo;
  x0_ = lo;
  x1_ = hi;
  return *this;
}
Figure& Figure::ylim(double lo, double hi) {
  has_ylim_ = finite(lo) && finite(hi) && hi > lo;
  y0_ = lo;
  y1_ = hi;
  return *this;
}
Figure& Figure::equal_aspect(bool on) {
  equal_ = on;
  return *this;
}

cv::Mat Figure::render() const {
  // ---- axis transforms and data limits (transformed space)
  const auto tx = [&](double v) { return logx_ ? (v > 0 ? std::log10(v) : NAN) : v; };
  const auto ty = [&](double v) { return logy_ ? (v > 0 ? std::log10(v) : NAN) : v; };
  constexpr double inf = std::numeric_limits<double>::infinity();
  double dx0 = inf, dx1 = -inf, dy0 = inf, dy1 = -inf;
  bool y_sticky_zero = false;  // histograms stand on y = 0: no margin below it
  const auto grow = [](double v, double& lo, double& hi) {
    if (finite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  };
  std::vector<Density> dens(series_.size());
  for (size_t i = 0; i < series_.size(); ++i) {
    const auto& s = series_[i];
    if (s.kind == Series::Kind::Histogram) {
      dens[i] = histogram_density(s.x, s.bins);
      if (dens[i].edges.empty()) continue;
      grow(tx(dens[i].edges.front()), dx0, dx1);
      grow(tx(dens[i].edges.back()), dx0, dx1);
      for (double h : dens[i].height) grow(ty(h), dy0, dy1);
      if (!logy_) {
        grow(0.0, dy0, dy1);
        y_sticky_zero = true;
      }
      continue;
    }
    for (size_t k = 0; k < s.x.size(); ++k) {
      const double a = tx(s.x[k]), b = ty(s.y[k]);
      if (!finite(a) || !finite(b)) continue;
      grow(a, dx0, dx1);
      grow(b, dy0, dy1);
      if (!s.lo.empty()) {
        grow(ty(s.lo[k]), dy0, dy1);
        grow(ty(s.hi[k]), dy0, dy1);
      }
    }
  }
  const auto settle = [](double& lo, double& hi, bool log, bool sticky_zero_lo) {
    if (!(lo <= hi)) {  // no finite data
      lo = 0;
      hi = 1;
      return;
    }
    if (hi - lo < 1e-12 * std::max(1.0, std::abs(lo))) {
      const double pad = log ? 0.5 : std::max(0.05 * std::abs(lo), 0.5);
      lo -= pad;
      hi += pad;
      return;
    }
    const double m = 0.05 * (hi - lo);
    if (!(sticky_zero_lo && lo == 0)) lo -= m;
    hi += m;
  };
  double X0 = dx0, X1 = dx1, Y0 = dy0, Y1 = dy1;
  settle(X0, X1, logx_, false);
  settle(Y0, Y1, logy_, y_sticky_zero);
  if (has_xlim_) {
    const double a = tx(x0_), b = tx(x1_);
    if (finite(a) && finite(b) && b > a) X0 = a, X1 = b;
  }
  if (has_ylim_) {
    const double a = ty(y0_), b = ty(y1_);
    if (finite(a) && finite(b) && b > a) Y0 = a, Y1 = b;
  }

  // ---- layout: margins from the sizes of the texts around the plot area
  int tick_h = 0, base = 0;
  tick_h = text_size("0123456789", kTickScale, 1, &base).height;
  const int label_h = text_size("Xg", kLabelScale).height;
  const int title_h = title_.empty() ? 0 : text_size(title_, kTitleScale, 1).height;
  const int top = title_.empty() ? 16 : title_h + 24;
  const int bottom = kTickLen + 6 + tick_h + (xlabel_.empty() ? 10 : 14 + label_h + 10);
  int left = 60, right = 24;
  Ticks xt, yt;
  cv::Rect area;
  for (int pass = 0; pass < 2; ++pass) {
    area = cv::Rect(left, top, std::max(width_ - left - right, 20), std::max(height_ - top - bottom, 20));
    if (equal_ && !logx_ && !logy_ && pass == 0) {
      // Same data units per pixel on both axes: widen the axis that has fewer.
      const double ux = (X1 - X0) / area.width, uy = (Y1 - Y0) / area.height;
      if (ux > uy) {
        const double c = 0.5 * (Y0 + Y1), h = 0.5 * ux * area.height;
        Y0 = c - h, Y1 = c + h;
      } else {
        const double c = 0.5 * (X0 + X1), h = 0.5 * uy * area.width;
        X0 = c - h, X1 = c + h;
      }
    }
    const int nx = std::clamp(area.width / 75, 4, 10), ny = std::clamp(area.height / 55, 4, 8);
    xt = logx_ ? log_ticks(X0, X1, nx) : linear_ticks(X0, X1, nx, false);
    yt = logy_ ? log_ticks(Y0, Y1, ny) : linear_ticks(Y0, Y1, ny, false);
    int ymax_w = 0;
    for (const auto& l : yt.labels) ymax_w = std::max(ymax_w, text_size(l, kTickScale).width);
    left = kTickLen + 6 + ymax_w + (ylabel_.empty() ? 12 : 12 + label_h + 14);
    int last_w = 0;
    if (!xt.labels.empty()) last_w = text_size(xt.labels.back(), kTickScale).width;
    right = std::max(24, last_w / 2 + 8);
  }
  if (equal_ && !logx_ && !logy_) {
    // The final plot area differs a little from pass 0's: redo the aspect fix.
    const double ux = (X1 - X0) / area.width, uy = (Y1 - Y0) / area.height;
    if (ux > uy) {
      const double c = 0.5 * (Y0 + Y1), h = 0.5 * ux * area.height;
      Y0 = c - h, Y1 = c + h;
    } else {
      const double c = 0.5 * (X0 + X1), h = 0.5 * uy * area.width;
      X0 = c - h, X1 = c + h;
    }
    const int nx = std::clamp(area.width / 75, 4, 10), ny = std::clamp(area.height / 55, 4, 8);
    xt = linear_ticks(X0, X1, nx, false);
    yt = linear_ticks(Y0, Y1, ny, false);
  }

  // Transformed coordinates -> pixel coordinates inside the plot area.
  const auto px = [&](double a) { return (a - X0) / (X1 - X0) * area.width; };
  const auto py = [&](double b) { return area.height - (b - Y0) / (Y1 - Y0) * area.height; };

  cv::Mat canvas(height_, width_, CV_8UC3, kWhite);
  cv::Mat plot = canvas(area);
  cv::Mat occupied(area.size(), CV_8UC1, cv::Scalar(0));  // where data were drawn: for the legend

  // ---- grid
  for (double v : xt.major) {
    const double p = px(v);
    cv::line(plot, fixed({p, 0}), fixed({p, double(area.height)}), kGrid, 1, cv::LINE_AA, kShift);
  }
  for (double v : yt.major) {
    const double p = py(v);
    cv::line(plot, fixed({0, p}), fixed({double(area.width), p}), kGrid, 1, cv::LINE_AA, kShift);
  }

  // ---- series
  std::vector<cv::Scalar> colors(series_.size());
  int next_color = 0;
  for (size_t i = 0; i < series_.size(); ++i) {
    const auto& st = series_[i].style;
    colors[i] = st.color[0] >= 0 ? st.color : kPalette[next_color++ % kPalette.size()];
  }
  // Histograms first, so curves drawn over them stay on top.
  std::vector<size_t> order;
  for (size_t i = 0; i < series_.size(); ++i)
    if (series_[i].kind == Series::Kind::Histogram) order.push_back(i);
  for (size_t i = 0; i < series_.size(); ++i)
    if (series_[i].kind != Series::Kind::Histogram) order.push_back(i);

  for (size_t i : order) {
    const auto& s = series_[i];
    const auto& st = s.style;
    const cv::Scalar color = colors[i];
    const double alpha = std::clamp(st.alpha, 0.0, 1.0);
    if (s.kind == Series::Kind::Histogram) {
      const auto& d = dens[i];
      const double fill_alpha = alpha < 1 ? alpha : kHistAlpha;
      const double base_px = logy_ ? area.height + 2.0 : py(0.0);
      cv::Mat outline(plot.size(), CV_8UC1, cv::Scalar(0));
      for (size_t b = 0; b < d.height.size(); ++b) {
        const double xa = px(tx(d.edges[b])), xb = px(tx(d.edges[b + 1])), yb = py(ty(d.height[b]));
        if (!finite(xa) || !finite(xb)) continue;
        const double top_px = finite(yb) ? yb : base_px;
        const int l = static_cast<int>(std::lround(std::clamp(xa, -5.0, area.width + 5.0)));
        const int r = static_cast<int>(std::lround(std::clamp(xb, -5.0, area.width + 5.0)));
        const int t = static_cast<int>(std::lround(std::clamp(top_px, -5.0, area.height + 5.0)));
        const int bt = static_cast<int>(std::lround(std::clamp(base_px, -5.0, area.height + 5.0)));
        const cv::Rect bar(cv::Point(l, std::min(t, bt)), cv::Point(r, std::max(t, bt)));
        fill_rect_alpha(plot, bar, color, fill_alpha);
        cv::rectangle(occupied, bar, cv::Scalar(255), cv::FILLED);
        // Outline: the bar's sides and top, blended once for all bars below.
        draw_polyline(outline, {{xa, base_px}, {xa, top_px}, {xb, top_px}, {xb, base_px}}, cv::Scalar(255), 1, false);
      }
      blend_mask(plot, outline, color * 0.8, std::min(1.0, fill_alpha + 0.35));
      continue;
    }
    std::vector<cv::Point2d> pts(s.x.size());
    for (size_t k = 0; k < s.x.size(); ++k) {
      const double a = tx(s.x[k]), b = ty(s.y[k]);
      pts[k] = (finite(a) && finite(b)) ? cv::Point2d(px(a), py(b)) : cv::Point2d(NAN, NAN);
    }
    for (size_t k = 0; k < s.lo.size(); ++k) {  // error bars: a vertical segment with caps
      const double a = px(tx(s.x[k])), l = py(ty(s.lo[k])), h = py(ty(s.hi[k]));
      if (!finite(a) || !finite(l) || !finite(h)) continue;
      const double cap = 5;
      for (const auto& seg :
           {std::vector<cv::Point2d>{{a, l}, {a, h}}, std::vector<cv::Point2d>{{a - cap, l}, {a + cap, l}},
            std::vector<cv::Point2d>{{a - cap, h}, {a + cap, h}}}) {
        draw_polyline(plot, seg, color, 1, false);
        draw_polyline(occupied, seg, cv::Scalar(255), 3, false);
      }
    }
    if (s.kind == Series::Kind::Line && st.thickness > 0) {
      if (alpha >= 1) {
        draw_polyline(plot, pts, color, st.thickness, st.dashed_line);
      } else {
        cv::Mat layer(plot.size(), CV_8UC1, cv::Scalar(0));
        draw_polyline(layer, pts, cv::Scalar(255), st.thickness, st.dashed_line);
        blend_mask(plot, layer, color, alpha);
      }
      draw_polyline(occupied, pts, cv::Scalar(255), st.thickness + 2, false);
    }
    if (st.marker_radius > 0) {
      draw_points(plot, pts, color, st.marker_radius, alpha);
      draw_points(occupied, pts, cv::Scalar(255), st.marker_radius, 1.0);
    }
  }

  // ---- spines, ticks, tick labels
  const cv::Point tl = area.tl(), br(area.x + area.width, area.y + area.height);
  for (double v : xt.major) {
    const int x = area.x + static_cast<int>(std::lround(px(v)));
    if (x < area.x - 1 || x > br.x + 1) continue;
    cv::line(canvas, {x, br.y}, {x, br.y + kTickLen}, kSpine, 1, cv::LINE_AA);
  }
  for (double v : xt.minor) {
    const int x = area.x + static_cast<int>(std::lround(px(v)));
    cv::line(canvas, {x, br.y}, {x, br.y + kTickLen / 2 + 1}, kSpine, 1, cv::LINE_AA);
  }
  for (double v : yt.major) {
    const int y = area.y + static_cast<int>(std::lround(py(v)));
    if (y < area.y - 1 || y > br.y + 1) continue;
    cv::line(canvas, {tl.x - kTickLen, y}, {tl.x, y}, kSpine, 1, cv::LINE_AA);
  }
  for (double v : yt.minor) {
    const int y = area.y + static_cast<int>(std::lround(py(v)));
    cv::line(canvas, {tl.x - kTickLen / 2 - 1, y}, {tl.x, y}, kSpine, 1, cv::LINE_AA);
  }
  cv::rectangle(canvas, tl, br, kSpine, 1, cv::LINE_8);
  for (size_t k = 0; k < xt.major.size(); ++k) {
    const int x = area.x + static_cast<int>(std::lround(px(xt.major[k])));
    const auto sz = text_size(xt.labels[k], kTickScale);
    put_text(canvas, xt.labels[k], {x - sz.width / 2, br.y + kTickLen + 6}, kTickScale, kText);
  }
  for (size_t k = 0; k < yt.major.size(); ++k) {
    const int y = area.y + static_cast<int>(std::lround(py(yt.major[k])));
    const auto sz = text_size(yt.labels[k], kTickScale);
    put_text(canvas, yt.labels[k], {tl.x - kTickLen - 5 - sz.width, y - sz.height / 2}, kTickScale, kText);
  }

  // ---- axis labels and title
  if (!xlabel_.empty()) {
    const auto sz = text_size(xlabel_, kLabelScale);
    put_text(canvas, xlabel_, {area.x + area.width / 2 - sz.width / 2, br.y + kTickLen + 6 + tick_h + 14}, kLabelScale,
             kText);
  }
  if (!ylabel_.empty())
    put_text_vertical(canvas, ylabel_, {8 + label_h / 2 + 2, area.y + area.height / 2}, kLabelScale, kText);
  if (!title_.empty()) {
    const auto sz = text_size(title_, kTitleScale, 1);
    const int x = std::max(4, area.x + area.width / 2 - sz.width / 2);
    put_text(canvas, title_, {x, (top - title_h) / 2 - 2}, kTitleScale, cv::Scalar(0, 0, 0), 1);
  }

  // ---- legend: the corner of the plot area where it covers the least data
  std::vector<size_t> entries;
  for (size_t i = 0; i < series_.size(); ++i)
    if (!series_[i].label.empty()) entries.push_back(i);
  if (!entries.empty()) {
    constexpr int kSample = 30, kPad = 8, kGap = 8;
    const int row_h = std::max(tick_h + 8, 16);
    int text_w = 0;
    for (size_t i : entries) text_w = std::max(text_w, text_size(series_[i].label, kTickScale).width);
    const cv::Size box_size(kPad + kSample + kGap + text_w + kPad, kPad + row_h * int(entries.size()) + kPad - 4);
    const int m = 10;
    const std::array<cv::Point, 4> corners = {
        cv::Point(area.width - m - box_size.width, m), cv::Point(m, m), cv::Point(m, area.height - m - box_size.height),
        cv::Point(area.width - m - box_size.width, area.height - m - box_size.height)};
    cv::Point best = corners[0];
    int best_count = std::numeric_limits<int>::max();
    for (const auto& c : corners) {
      const cv::Rect r = cv::Rect(c, box_size) & cv::Rect(0, 0, area.width, area.height);
      const int n = r.empty() ? 0 : cv::countNonZero(occupied(r));
      if (n < best_count) best_count = n, best = c;
    }
    const cv::Rect box(best, box_size);
    fill_rect_alpha(plot, box, kWhite, 0.85);
    cv::rectangle(plot, box, kLegendBorder, 1, cv::LINE_8);
    for (size_t e = 0; e < entries.size(); ++e) {
      const auto& s = series_[entries[e]];
      const auto& st = s.style;
      const cv::Scalar color = colors[entries[e]];
      const int cy = box.y + kPad + row_h * int(e) + row_h / 2 - 2;
      const int x0 = box.x + kPad;
      if (s.kind == Series::Kind::Histogram) {
        const cv::Rect sw(x0 + 4, cy - 6, kSample - 8, 12);
        fill_rect_alpha(plot, sw, color, st.alpha < 1 ? st.alpha : kHistAlpha);
        cv::rectangle(plot, sw, color * 0.8, 1, cv::LINE_8);
      } else {
        if (s.kind == Series::Kind::Line && st.thickness > 0) {
          cv::Mat layer(plot.size(), CV_8UC1, cv::Scalar(0));
          draw_polyline(layer, {cv::Point2d(x0, cy), cv::Point2d(x0 + kSample, cy)}, cv::Scalar(255),
                        std::clamp(st.thickness, 1, 4), st.dashed_line);
          blend_mask(plot, layer, color, std::max(st.alpha, 0.7));
        }
        if (st.marker_radius > 0) {
          const int r = std::clamp(st.marker_radius, 3, 6);
          if (s.kind == Series::Kind::Scatter)
            draw_points(plot, {cv::Point2d(x0 + kSample / 2.0, cy)}, color, r, std::max(st.alpha, 0.8));
          else
            draw_points(plot, {cv::Point2d(x0 + kSample / 2.0, cy)}, color, r, 1.0);
        }
      }
      put_text(plot, s.label, {x0 + kSample + kGap, cy - tick_h / 2}, kTickScale, kText);
    }
  }
  return canvas;
}

void Figure::save(const std::filesystem::path& png) const { save_png(png, render()); }

// ================================================================= free functions

cv::Mat hstack(const std::vector<cv::Mat>& images) {
  if (images.empty()) return {};
  int h = 0;
  for (const auto& im : images) {
    if (im.empty()) throw std::invalid_argument("dm::hstack: an image is empty");
    if (im.depth() != CV_8U) throw std::invalid_argument("dm::hstack: images must be 8-bit");
    h = std::max(h, im.rows);
  }
  std::vector<cv::Mat> parts;
  for (const auto& im : images) {
    cv::Mat bgr;
    if (im.channels() == 1)
      cv::cvtColor(im, bgr, cv::COLOR_GRAY2BGR);
    else if (im.channels() == 4)
      cv::cvtColor(im, bgr, cv::COLOR_BGRA2BGR);
    else
      bgr = im;
    if (bgr.rows != h) {
      const double f = double(h) / bgr.rows;
      const bool integer = std::abs(f - std::round(f)) < 1e-9;
      cv::Mat scaled;
      cv::resize(bgr, scaled, cv::Size(std::max(1, static_cast<int>(std::lround(bgr.cols * f))), h), 0, 0,
                 integer ? cv::INTER_NEAREST : cv::INTER_LINEAR);
      bgr = scaled;
    }
    parts.push_back(bgr);
  }
  cv::Mat out;
  cv::hconcat(parts, out);
  return out;
}

void save_png(const std::filesystem::path& png, const cv::Mat& image) {
  if (image.empty()) throw std::invalid_argument("dm::save_png(" + png.string() + "): the image is empty");
  std::vector<std::uint8_t> buf;
  bool ok = false;
  try {
    ok = cv::imencode(".png", image, buf);
  } catch (const cv::Exception& e) {
    throw UserError("cannot encode " + png.string() + " as PNG: " + e.what());
  }
  if (!ok) throw UserError("cannot encode " + png.string() + " as PNG");
  write_file_atomic(png, std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size()));
}

}  // namespace dm
