// Tensor <-> OpenCV images, sample grids and labelled strips.
// Images inside models are float [C, H, W] in [-1, 1]; on disk 8-bit.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <torch/types.h>
#include <opencv2/core.hpp>

namespace dm {

// [C, H, W] (C = 1 or 3) float in [-1, 1] -> 8-bit cv::Mat (CV_8UC1 / CV_8UC3 BGR).
// Values outside [-1, 1] are clipped. Any device; copied to the CPU.
cv::Mat tensor_to_mat(const torch::Tensor& image);

// 8-bit cv::Mat -> [C, H, W] float in [-1, 1] (BGR -> RGB for 3 channels).
torch::Tensor mat_to_tensor(const cv::Mat& image);

// [B, C, H, W] -> one image of `nrow` images a row, `pad` pixels between,
// each image scaled up by `scale` (nearest neighbour: pixels stay visible).
cv::Mat make_grid(const torch::Tensor& batch, int nrow, int pad = 2, int scale = 2);

// A row of images with a caption under each (e.g. "t = 250").
cv::Mat labelled_strip(const std::vector<cv::Mat>& images, const std::vector<std::string>& captions, int pad = 4);

// Writes text into an image (white box, black text) at the top-left corner.
void put_label(cv::Mat& image, const std::string& text);

}  // namespace dm
