// Plots drawn by the chapter programs themselves (OpenCV), saved as PNG.
// Torch-free so Eigen-only chapters can use it.
//
//   dm::Figure fig{"Var(X_t) of the OU process", "t", "variance"};
//   fig.line(t, var_sim, "Euler-Maruyama");
//   fig.line(t, var_exact, "closed form", dm::Style::dashed());
//   fig.save(run.file("ou_variance.png"));
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace dm {

struct Style {
  cv::Scalar color = cv::Scalar(-1, -1, -1);  // BGR; negative: next colour of the palette
  int thickness = 2;
  bool dashed_line = false;
  int marker_radius = 0;  // > 0: draw points as dots
  double alpha = 1.0;     // < 1: blend (many paths / points)
  static Style dashed() {
    Style s;
    s.dashed_line = true;
    return s;
  }
  static Style points(int radius = 2, double alpha = 0.6) {
    Style s;
    s.marker_radius = radius;
    s.thickness = 0;
    s.alpha = alpha;
    return s;
  }
  static Style thin(double alpha = 0.5) {
    Style s;
    s.thickness = 1;
    s.alpha = alpha;
    return s;
  }
};

// One set of axes: line series, scatter series, histograms; axes with ticks and
// labels, a title and a legend (series with an empty label are left out of it).
class Figure {
 public:
  Figure(std::string title, std::string xlabel, std::string ylabel, int width = 800, int height = 560);

  Figure& line(const std::vector<double>& x, const std::vector<double>& y, const std::string& label = "",
               Style style = {});
  Figure& scatter(const std::vector<double>& x, const std::vector<double>& y, const std::string& label = "",
                  Style style = Style::points());
  // Vertical error bars [lo[k], hi[k]] (capped) at each point of the series added last (a line or a
  // scatter): an interval for each y, e.g. fig.line(steps, fid, "eta = 0").errors(fid_lo, fid_hi).
  Figure& errors(const std::vector<double>& lo, const std::vector<double>& hi);
  // A density-normalised histogram of `samples` over `bins` equal bins.
  Figure& histogram(const std::vector<double>& samples, int bins, const std::string& label = "", Style style = {});
  Figure& logx(bool on = true);
  Figure& logy(bool on = true);
  Figure& xlim(double lo, double hi);
  Figure& ylim(double lo, double hi);
  Figure& equal_aspect(bool on = true);  // 2-D scatter and paths

  cv::Mat render() const;                             // 8-bit BGR image
  void save(const std::filesystem::path& png) const;  // atomic; dm::UserError if unwritable

 private:
  struct Series {
    enum class Kind { Line, Scatter, Histogram } kind;
    std::vector<double> x, y;  // histogram: x holds the samples
    std::string label;
    Style style;
    int bins = 0;
    std::vector<double> lo, hi;  // error bars of each y (empty: none)
  };
  std::string title_, xlabel_, ylabel_;
  int width_, height_;
  bool logx_ = false, logy_ = false, equal_ = false;
  bool has_xlim_ = false, has_ylim_ = false;
  double x0_ = 0, x1_ = 1, y0_ = 0, y1_ = 1;
  std::vector<Series> series_;
};

// Images side by side (same height after scaling), e.g. two figures in one PNG.
cv::Mat hstack(const std::vector<cv::Mat>& images);

// Saves an 8-bit image as PNG atomically (dm::UserError if unwritable).
void save_png(const std::filesystem::path& png, const cv::Mat& image);

}  // namespace dm
