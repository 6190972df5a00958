// Tensor <-> OpenCV images. Inside models an image is float [C, H, W] in
// [-1, 1] (RGB); on disk and on screen it is 8-bit (BGR for OpenCV):
//   pixel = round((x + 1) * 127.5),   x = pixel / 127.5 - 1.
#include "dm/image.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <opencv2/imgproc.hpp>

namespace dm {

namespace {

std::string shape_string(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

// Any 8-bit image as BGR (gray and BGRA converted).
cv::Mat as_bgr(const cv::Mat& image) {
  if (image.depth() != CV_8U) throw std::invalid_argument("dm: expected an 8-bit image");
  cv::Mat out;
  if (image.channels() == 1)
    cv::cvtColor(image, out, cv::COLOR_GRAY2BGR);
  else if (image.channels() == 4)
    cv::cvtColor(image, out, cv::COLOR_BGRA2BGR);
  else
    out = image;
  return out;
}

constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

}  // namespace

cv::Mat tensor_to_mat(const torch::Tensor& image) {
  torch::Tensor x = image.detach();
  if (x.dim() == 4 && x.size(0) == 1) x = x.squeeze(0);  // [1, C, H, W] -> [C, H, W]
  if (x.dim() == 2) x = x.unsqueeze(0);                  // [H, W] -> [1, H, W]
  if (x.dim() != 3 || (x.size(0) != 1 && x.size(0) != 3))
    throw std::invalid_argument("dm::tensor_to_mat: expected [C, H, W] with C = 1 or 3, got " + shape_string(image));
  const int c = static_cast<int>(x.size(0)), h = static_cast<int>(x.size(1)), w = static_cast<int>(x.size(2));
  // [-1, 1] -> {0..255}; NaN maps to 0 rather than to an undefined cast.
  auto bytes = x.to(torch::kCPU, torch::kFloat)
                   .nan_to_num(-1.0)
                   .clamp(-1, 1)
                   .add(1)
                   .mul(127.5)
                   .round()
                   .to(torch::kUInt8)
                   .permute({1, 2, 0})  // [C, H, W] -> [H, W, C]
                   .contiguous();
  cv::Mat mat(h, w, CV_8UC(c), bytes.data_ptr<std::uint8_t>());
  cv::Mat out;
  if (c == 3)
    cv::cvtColor(mat, out, cv::COLOR_RGB2BGR);  // a new buffer: the tensor may go
  else
    out = mat.clone();
  return out;
}

torch::Tensor mat_to_tensor(const cv::Mat& image) {
  if (image.empty()) throw std::invalid_argument("dm::mat_to_tensor: the image is empty");
  if (image.depth() != CV_8U || (image.channels() != 1 && image.channels() != 3))
    throw std::invalid_argument("dm::mat_to_tensor: expected an 8-bit gray or BGR image");
  cv::Mat m;
  if (image.channels() == 3)
    cv::cvtColor(image, m, cv::COLOR_BGR2RGB);
  else
    m = image.isContinuous() ? image : image.clone();
  const int c = image.channels();
  auto t = torch::from_blob(m.data, {m.rows, m.cols, c}, torch::kUInt8)
               .permute({2, 0, 1})  // [H, W, C] -> [C, H, W]
               .to(torch::kFloat)   // copies: the tensor owns its memory
               .div(127.5)
               .sub(1);
  return t.contiguous();
}

cv::Mat make_grid(const torch::Tensor& batch, int nrow, int pad, int scale) {
  torch::Tensor b = batch.detach();
  if (b.dim() == 3) b = b.unsqueeze(0);  // one image
  if (b.dim() != 4 || (b.size(1) != 1 && b.size(1) != 3) || b.size(0) < 1)
    throw std::invalid_argument("dm::make_grid: expected [B, C, H, W] with B >= 1 and C = 1 or 3, got " +
                                shape_string(batch));
  const int n = static_cast<int>(b.size(0));
  scale = std::max(scale, 1);
  pad = std::max(pad, 0);
  if (nrow <= 0) nrow = static_cast<int>(std::ceil(std::sqrt(double(n))));
  const int cols = std::min(nrow, n), rows = (n + nrow - 1) / nrow;
  const int h = static_cast<int>(b.size(2)) * scale, w = static_cast<int>(b.size(3)) * scale;
  // `pad` pixels between neighbouring images, none around the border.
  cv::Mat grid(rows * h + (rows - 1) * pad, cols * w + (cols - 1) * pad, b.size(1) == 3 ? CV_8UC3 : CV_8UC1,
               cv::Scalar::all(255));
  const auto cpu = b.to(torch::kCPU);
  for (int i = 0; i < n; ++i) {
    cv::Mat img = tensor_to_mat(cpu[i]);
    cv::Mat big;
    cv::resize(img, big, cv::Size(w, h), 0, 0, cv::INTER_NEAREST);
    const int r = i / nrow, c = i % nrow;
    big.copyTo(grid(cv::Rect(c * (w + pad), r * (h + pad), w, h)));
  }
  return grid;
}

cv::Mat labelled_strip(const std::vector<cv::Mat>& images, const std::vector<std::string>& captions, int pad) {
  if (images.empty()) return {};
  pad = std::max(pad, 0);
  constexpr double kScale = 0.45;
  int base = 0;
  const int text_h = cv::getTextSize("Tg", kFont, kScale, 1, &base).height;
  const int caption_h = captions.empty() ? 0 : text_h + base + 8;
  std::vector<cv::Mat> bgr;
  std::vector<int> cell_w;
  int max_h = 0, total_w = pad;
  for (size_t i = 0; i < images.size(); ++i) {
    if (images[i].empty()) throw std::invalid_argument("dm::labelled_strip: image " + std::to_string(i) + " is empty");
    bgr.push_back(as_bgr(images[i]));
    const std::string cap = i < captions.size() ? captions[i] : "";
    const int tw = cap.empty() ? 0 : cv::getTextSize(cap, kFont, kScale, 1, &base).width + 4;
    cell_w.push_back(std::max(bgr.back().cols, tw));
    max_h = std::max(max_h, bgr.back().rows);
    total_w += cell_w.back() + pad;
  }
  cv::Mat strip(pad + max_h + caption_h + pad, total_w, CV_8UC3, cv::Scalar::all(255));
  int x = pad;
  for (size_t i = 0; i < bgr.size(); ++i) {
    const int ox = x + (cell_w[i] - bgr[i].cols) / 2;
    bgr[i].copyTo(strip(cv::Rect(ox, pad, bgr[i].cols, bgr[i].rows)));
    if (i < captions.size() && !captions[i].empty()) {
      const auto sz = cv::getTextSize(captions[i], kFont, kScale, 1, &base);
      cv::putText(strip, captions[i], cv::Point(x + (cell_w[i] - sz.width) / 2, pad + max_h + 4 + sz.height), kFont,
                  kScale, cv::Scalar::all(20), 1, cv::LINE_AA);
    }
    x += cell_w[i] + pad;
  }
  return strip;
}

void put_label(cv::Mat& image, const std::string& text) {
  if (image.empty() || text.empty()) return;
  // A font that suits the image: 0.35 on small images up to 0.6 on large ones.
  const double scale = std::clamp(std::min(image.rows, image.cols) / 400.0, 0.35, 0.6);
  int base = 0;
  const auto sz = cv::getTextSize(text, kFont, scale, 1, &base);
  const cv::Rect box(0, 0, std::min(sz.width + 6, image.cols), std::min(sz.height + base + 4, image.rows));
  cv::rectangle(image, box, cv::Scalar::all(255), cv::FILLED);
  cv::putText(image, text, cv::Point(3, 2 + sz.height), kFont, scale, cv::Scalar::all(0), 1, cv::LINE_AA);
}

}  // namespace dm
