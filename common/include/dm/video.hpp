// MP4 video from frames: H.264 ('avc1') when this OpenCV's FFmpeg has an
// encoder for it, else MPEG-4 Part 2 ('mp4v'). Written to a temporary file and
// renamed on close(), so a reader never sees half a video.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include <opencv2/core.hpp>

namespace dm {

class VideoWriter {
 public:
  // Frames must all have `frame_size`; they are scaled up to an even size >= 256
  // px on the short side (nearest neighbour) because players reject tiny videos.
  VideoWriter(const std::filesystem::path& mp4, double fps, cv::Size frame_size);
  ~VideoWriter();
  void write(const cv::Mat& frame);  // 8-bit gray or BGR
  void close();                      // finishes and renames; called by the destructor
  const std::string& codec() const;  // "avc1" or "mp4v"
  int frames() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dm
