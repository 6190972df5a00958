// MP4 through OpenCV's FFmpeg backend. H.264 ('avc1') plays everywhere but
// needs an FFmpeg with an H.264 encoder (libx264, openh264); otherwise we fall
// back to MPEG-4 Part 2 ('mp4v'), which Debian's FFmpeg always has.
#include "dm/video.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <system_error>

#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "dm/atomic_write.hpp"
#include "dm/errors.hpp"

namespace dm {

namespace {

constexpr int kMinShortSide = 256;

// Nearest-neighbour scale factor, then rounded up to even sides (encoders
// using 4:2:0 chroma need even widths and heights).
cv::Size output_size(cv::Size in) {
  const int short_side = std::max(1, std::min(in.width, in.height));
  const int k = std::max(1, (kMinShortSide + short_side - 1) / short_side);
  cv::Size out(in.width * k, in.height * k);
  out.width += out.width % 2;
  out.height += out.height % 2;
  return out;
}

// Opens `w` with the fourcc, with OpenCV's own log quiet: a failed 'avc1' try
// otherwise prints FFmpeg errors that look like a crash but are expected.
bool try_open(cv::VideoWriter& w, const std::filesystem::path& file, const char* fourcc, double fps, cv::Size size) {
  const auto level = cv::utils::logging::getLogLevel();
  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
  bool ok = false;
  try {
    ok = w.open(file.string(), cv::CAP_FFMPEG, cv::VideoWriter::fourcc(fourcc[0], fourcc[1], fourcc[2], fourcc[3]), fps,
                size, /*isColor=*/true);
  } catch (const cv::Exception&) {
    ok = false;
  }
  cv::utils::logging::setLogLevel(level);
  return ok && w.isOpened();
}

}  // namespace

struct VideoWriter::Impl {
  std::filesystem::path path, tmp;
  cv::Size in_size, out_size;
  cv::VideoWriter writer;
  std::string codec;
  int frames = 0;
  bool closed = false;
};

VideoWriter::VideoWriter(const std::filesystem::path& mp4, double fps, cv::Size frame_size)
    : impl_(std::make_unique<Impl>()) {
  if (frame_size.width <= 0 || frame_size.height <= 0)
    throw std::invalid_argument("dm::VideoWriter: frame size must be positive");
  if (!(fps > 0)) throw std::invalid_argument("dm::VideoWriter: fps must be positive");
  auto& d = *impl_;
  d.path = mp4;
  d.tmp = temp_path_for(mp4);
  d.in_size = frame_size;
  d.out_size = output_size(frame_size);
  const auto folder = mp4.has_parent_path() ? mp4.parent_path() : std::filesystem::path(".");
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec))
    throw UserError("cannot write " + mp4.string() + ": the folder " + folder.string() + " does not exist");
  for (const char* fourcc : {"avc1", "mp4v"}) {
    if (try_open(d.writer, d.tmp, fourcc, fps, d.out_size)) {
      d.codec = fourcc;
      break;
    }
    std::filesystem::remove(d.tmp, ec);  // a failed try may leave an empty file
  }
  if (d.codec.empty())
    throw UserError("cannot write " + mp4.string() +
                    ": OpenCV could open no MP4 encoder (tried avc1 and mp4v); is the folder writable and "
                    "OpenCV built with FFmpeg?");
}

VideoWriter::~VideoWriter() {
  try {
    close();
  } catch (...) {  // a destructor must not throw; call close() to see errors
  }
}

void VideoWriter::write(const cv::Mat& frame) {
  auto& d = *impl_;
  if (d.closed) throw std::logic_error("dm::VideoWriter::write after close() (" + d.path.string() + ")");
  if (frame.size() != d.in_size)
    throw std::invalid_argument("dm::VideoWriter(" + d.path.string() + "): frame of " + std::to_string(frame.cols) +
                                "x" + std::to_string(frame.rows) + ", expected " + std::to_string(d.in_size.width) +
                                "x" + std::to_string(d.in_size.height));
  if (frame.depth() != CV_8U || (frame.channels() != 1 && frame.channels() != 3 && frame.channels() != 4))
    throw std::invalid_argument("dm::VideoWriter(" + d.path.string() + "): frames must be 8-bit gray or BGR");
  cv::Mat bgr;
  if (frame.channels() == 1)
    cv::cvtColor(frame, bgr, cv::COLOR_GRAY2BGR);
  else if (frame.channels() == 4)
    cv::cvtColor(frame, bgr, cv::COLOR_BGRA2BGR);
  else
    bgr = frame;
  cv::Mat big;
  cv::resize(bgr, big, d.out_size, 0, 0, cv::INTER_NEAREST);
  d.writer.write(big);
  ++d.frames;
}

void VideoWriter::close() {
  auto& d = *impl_;
  if (d.closed) return;
  d.closed = true;
  d.writer.release();
  if (d.frames == 0) {  // nothing written: leave no empty, unplayable file behind
    std::error_code ec;
    std::filesystem::remove(d.tmp, ec);
    return;
  }
  commit_atomic(d.tmp, d.path);
}

const std::string& VideoWriter::codec() const { return impl_->codec; }

int VideoWriter::frames() const { return impl_->frames; }

}  // namespace dm
