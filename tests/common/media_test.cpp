// The course library's pictures: dm::Figure / save_png / hstack (plot.hpp), tensor <-> image
// conversion, grids and strips (image.hpp), and MP4 writing (video.hpp).
// Checks sizes, that figures are not blank, PNG round trips, errors on unwritable paths,
// exact pixel round trips, grid arithmetic, and that a written video re-opens with every frame.
// Run one test: build/default/bin/test_common --gtest_filter='VideoWriter.*'
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "dm/errors.hpp"
#include "dm/image.hpp"
#include "dm/plot.hpp"
#include "dm/video.hpp"
#include "temp_dir.hpp"
#include "testing.hpp"

using dm::testing::TempDir;
using ::testing::HasSubstr;

namespace {

dm::Figure demo_figure(int width, int height) {
  std::vector<double> x, y, z;
  for (int i = 0; i <= 100; ++i) {
    x.push_back(i / 10.0);
    y.push_back(std::sin(i / 10.0));
    z.push_back(i == 50 ? NAN : std::cos(i / 10.0));  // a NaN is skipped, not drawn
  }
  dm::Figure fig{"demo", "x", "y", width, height};
  fig.line(x, y, "sin").line(x, z, "cos", dm::Style::dashed()).scatter({1, 2, 3}, {0.5, -0.5, 0.2}, "points");
  return fig;
}

int non_white_pixels(const cv::Mat& bgr) {
  cv::Mat gray;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  return cv::countNonZero(gray < 250);
}

}  // namespace

TEST(Figure, RendersANonBlankImageOfTheRequestedSize) {
  const cv::Mat img = demo_figure(640, 480).render();
  EXPECT_EQ(img.cols, 640);
  EXPECT_EQ(img.rows, 480);
  EXPECT_EQ(img.type(), CV_8UC3);
  EXPECT_GT(non_white_pixels(img), 640 * 480 / 100) << "the figure is (nearly) blank";
  // The corner is background: white.
  EXPECT_EQ(img.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 255, 255));
}

TEST(Figure, RendersLogAxesHistogramsAndEmptyFiguresWithoutThrowing) {
  std::vector<double> samples;
  for (int i = 0; i < 1000; ++i) samples.push_back(std::sin(i * 0.37) + (i % 7) * 0.1);
  dm::Figure hist{"histogram", "x", "density"};
  hist.histogram(samples, 30, "samples").line({-1, 0, 1}, {0.1, 0.5, 0.1}, "curve");
  EXPECT_GT(non_white_pixels(hist.render()), 1000);
  dm::Figure log{"loss", "step", "loss"};
  log.logx().logy().line({1, 10, 100, 1000}, {1, 0.1, 0.0, 1e-3}, "loss");  // 0 cannot be shown on a log axis
  EXPECT_GT(non_white_pixels(log.render()), 1000);
  EXPECT_FALSE(dm::Figure("", "", "").render().empty());
  dm::Figure eq{"equal", "x", "y", 500, 300};
  eq.equal_aspect().xlim(-1, 1).ylim(-1, 1).scatter({0, 0.5}, {0, 0.5});
  EXPECT_EQ(eq.render().size(), cv::Size(500, 300));
}

TEST(Figure, SavePngRoundTripsThroughImread) {
  TempDir dir("png");
  const auto fig = demo_figure(400, 300);
  const auto file = dir / "demo.png";
  fig.save(file);
  const cv::Mat back = cv::imread(file.string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(back.empty()) << file << " does not read back as an image";
  EXPECT_EQ(cv::norm(back, fig.render(), cv::NORM_INF), 0.0) << "PNG is lossless: pixels must match exactly";
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    EXPECT_EQ(entry.path().filename(), "demo.png") << "a temporary file was left behind";
}

TEST(Figure, SaveToAnUnwritablePathThrowsUserErrorNamingThePath) {
  TempDir dir("unwritable");
  const auto regular = dir / "a_file";
  std::ofstream(regular) << "x";
  const auto fig = demo_figure(200, 150);
  for (const auto& bad : {std::filesystem::path("/proc/nonexistent/x.png"), regular / "x.png"}) {
    try {
      fig.save(bad);
      ADD_FAILURE() << "saving to " << bad << " did not throw";
    } catch (const dm::UserError& e) {
      EXPECT_THAT(e.what(), HasSubstr(bad.string()));
    }
  }
}

TEST(Hstack, ScalesToACommonHeightAndConvertsGrayToBgr) {
  const cv::Mat a(100, 50, CV_8UC3, cv::Scalar(10, 20, 30)), b(50, 40, CV_8UC1, cv::Scalar(7));
  const cv::Mat out = dm::hstack({a, b});
  EXPECT_EQ(out.rows, 100);
  EXPECT_EQ(out.cols, 50 + 80);
  EXPECT_EQ(out.type(), CV_8UC3);
  EXPECT_EQ(out.at<cv::Vec3b>(99, 129), cv::Vec3b(7, 7, 7));
}

TEST(TensorToMat, RoundTripsEveryByteValueExactly) {
  cv::Mat bgr(16, 48, CV_8UC3);
  for (int r = 0; r < bgr.rows; ++r)
    for (int c = 0; c < bgr.cols; ++c) bgr.at<cv::Vec3b>(r, c) = cv::Vec3b(r * 16 + c % 16, 255 - c, (r * c) % 256);
  const auto t = dm::mat_to_tensor(bgr);
  ASSERT_EQ(t.sizes(), torch::IntArrayRef({3, 16, 48}));
  EXPECT_LE(t.max().item<double>(), 1.0);
  EXPECT_GE(t.min().item<double>(), -1.0);
  EXPECT_EQ(cv::norm(dm::tensor_to_mat(t), bgr, cv::NORM_INF), 0.0);
  const cv::Mat gray(5, 7, CV_8UC1, cv::Scalar(200));
  EXPECT_EQ(cv::norm(dm::tensor_to_mat(dm::mat_to_tensor(gray)), gray, cv::NORM_INF), 0.0);
}

TEST(TensorToMat, MapsMinusOneToBlackOneToWhiteAndRgbToBgr) {
  // A pure red RGB image: channel 0 at +1, the others at -1; OpenCV stores it as (B, G, R) = (0, 0, 255).
  auto red = torch::full({3, 2, 2}, -1.0);
  red[0] = 1.0;
  EXPECT_EQ(dm::tensor_to_mat(red).at<cv::Vec3b>(1, 1), cv::Vec3b(0, 0, 255));
  // Values outside [-1, 1] are clipped.
  const cv::Mat g = dm::tensor_to_mat(torch::tensor({-3.0, 0.0, 5.0}).view({1, 1, 3}));
  EXPECT_EQ(g.at<std::uint8_t>(0, 0), 0);
  EXPECT_EQ(g.at<std::uint8_t>(0, 1), 128);  // round(127.5)
  EXPECT_EQ(g.at<std::uint8_t>(0, 2), 255);
}

TEST(MakeGrid, PlacesScaledImagesWithPaddingBetween) {
  // 10 images of 28x28, 4 a row -> 3 rows; scale 2 -> 56 px cells; 2 px between cells.
  const auto batch = torch::linspace(-1, 1, 10).view({10, 1, 1, 1}).expand({10, 1, 28, 28});
  const cv::Mat grid = dm::make_grid(batch, /*nrow=*/4, /*pad=*/2, /*scale=*/2);
  EXPECT_EQ(grid.cols, 4 * 56 + 3 * 2);
  EXPECT_EQ(grid.rows, 3 * 56 + 2 * 2);
  EXPECT_EQ(grid.at<std::uint8_t>(0, 0), 0);     // image 0 is all -1: black
  EXPECT_EQ(grid.at<std::uint8_t>(0, 56), 255);  // the padding column
  EXPECT_EQ(grid.at<std::uint8_t>(58 + 55, 58 + 55), dm::tensor_to_mat(batch[5]).at<std::uint8_t>(27, 27));
  EXPECT_EQ(grid.at<std::uint8_t>(2 * 58 + 10, 3 * 58 + 10), 255);  // slots 10, 11 are empty
}

TEST(LabelledStrip, PutsOneCaptionUnderEachImage) {
  const std::vector<cv::Mat> images(3, cv::Mat(40, 40, CV_8UC1, cv::Scalar(0)));
  const cv::Mat strip = dm::labelled_strip(images, {"t = 0", "t = 500", "t = 999"}, 4);
  EXPECT_EQ(strip.type(), CV_8UC3);
  EXPECT_GE(strip.cols, 3 * 40 + 4 * 4);
  EXPECT_GT(strip.rows, 40 + 2 * 4);  // room for the captions
  cv::Mat labelled(60, 120, CV_8UC3, cv::Scalar(0, 0, 0));
  dm::put_label(labelled, "step 10");
  EXPECT_EQ(labelled.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 255, 255));  // the white box
}

TEST(VideoWriter, WritesAFileThatReopensWithEveryFrame) {
  TempDir dir("video");
  const auto file = dir / "clip.mp4";
  std::string codec;
  {
    dm::VideoWriter video(file, /*fps=*/10, cv::Size(28, 28));
    for (int i = 0; i < 12; ++i) video.write(cv::Mat(28, 28, CV_8UC1, cv::Scalar(i * 20)));
    codec = video.codec();
    EXPECT_EQ(video.frames(), 12);
    EXPECT_FALSE(std::filesystem::exists(file)) << "the video must appear only when closed";
  }  // the destructor closes and renames
  EXPECT_TRUE(codec == "avc1" || codec == "mp4v") << codec;
  ASSERT_TRUE(std::filesystem::exists(file));
  cv::VideoCapture cap(file.string());
  ASSERT_TRUE(cap.isOpened()) << file << " (" << codec << ") does not re-open";
  // 28 px scaled up by ceil(256 / 28) = 10 to 280 px.
  EXPECT_EQ(cap.get(cv::CAP_PROP_FRAME_WIDTH), 280);
  EXPECT_EQ(cap.get(cv::CAP_PROP_FRAME_HEIGHT), 280);
  int frames = 0;
  cv::Mat frame;
  while (cap.read(frame)) ++frames;
  EXPECT_EQ(frames, 12);
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    EXPECT_EQ(entry.path().filename(), "clip.mp4") << "a temporary file was left behind";
}

TEST(VideoWriter, MakesOddSizesEvenAndAtLeast256) {
  TempDir dir("video_odd");
  const auto file = dir / "odd.mp4";
  {
    dm::VideoWriter video(file, 5, cv::Size(15, 9));  // x29 -> 435x261 -> even: 436x262
    for (int i = 0; i < 3; ++i) video.write(cv::Mat(9, 15, CV_8UC3, cv::Scalar(0, 100, 200)));
    video.close();
  }
  cv::VideoCapture cap(file.string());
  ASSERT_TRUE(cap.isOpened());
  EXPECT_EQ(cap.get(cv::CAP_PROP_FRAME_WIDTH), 436);
  EXPECT_EQ(cap.get(cv::CAP_PROP_FRAME_HEIGHT), 262);
}

TEST(VideoWriter, ThrowsUserErrorForAMissingFolder) {
  EXPECT_THROW(dm::VideoWriter("/proc/nonexistent/x.mp4", 10, cv::Size(32, 32)), dm::UserError);
}
