// The course library's plumbing: dm::todo (todo.hpp), dm::RunDir (run_dir.hpp) and
// dm::Progress (progress.hpp).
// Checks the not-implemented message names the exercise and its file under exercises/, that an
// unwritable run root is a dm::UserError, and that the progress bar prints plain lines off a terminal.
// Run one test: build/default/bin/test_common --gtest_filter='Todo.*'
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "dm/errors.hpp"
#include "dm/progress.hpp"
#include "dm/run_dir.hpp"
#include "dm/todo.hpp"
#include "temp_dir.hpp"

using ::testing::HasSubstr;
using ::testing::Not;

TEST(Todo, ThrowsNotImplementedNamingTheExerciseAndItsFile) {
  try {
    dm::todo("02.3", "/home/student/course/exercises/02_forward_noising/forward.cpp", 41);
    FAIL() << "dm::todo returned";
  } catch (const dm::NotImplemented& e) {
    EXPECT_THAT(e.what(), HasSubstr("02.3"));
    EXPECT_THAT(e.what(), HasSubstr("exercises/02_forward_noising/forward.cpp:41"));
    EXPECT_THAT(e.what(), Not(HasSubstr("/home/student")));
  }
}

TEST(RunDir, CreatesTheChapterFolderAndWritesMetrics) {
  dm::testing::TempDir root("rundir");
  dm::RunDir run(root.path(), "02_forward_noising");
  EXPECT_TRUE(std::filesystem::is_directory(root / "02_forward_noising"));
  run.metrics()["alpha_bar_last"] = 4.04e-05;
  run.save_metrics();
  std::ifstream in(run.file("metrics.json"));
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["chapter"], "02_forward_noising");
  EXPECT_DOUBLE_EQ(j["alpha_bar_last"].get<double>(), 4.04e-05);
}

TEST(RunDir, ThrowsUserErrorForAnUnwritableRoot) {
  EXPECT_THROW(dm::RunDir("/proc/nonexistent", "ch"), dm::UserError);
  dm::testing::TempDir root("rundir_file");
  std::ofstream(root / "file") << "x";
  try {
    dm::RunDir(root / "file", "ch");
    FAIL() << "a run folder under a regular file was accepted";
  } catch (const dm::UserError& e) {
    EXPECT_THAT(e.what(), HasSubstr((root / "file").string()));
  }
}

TEST(Progress, PrintsPlainLinesWhenStdoutIsNotATerminal) {
  ::testing::internal::CaptureStdout();  // stdout becomes a file: not a tty
  {
    dm::Progress bar("train", 100);
    for (int i = 1; i <= 100; ++i) bar.update(i, 1.0 / i);
    bar.finish();
  }
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_THAT(out, HasSubstr("train"));
  EXPECT_THAT(out, HasSubstr("100/100"));
  EXPECT_THAT(out, Not(HasSubstr("\r"))) << "no carriage returns off a terminal";
}

TEST(Progress, AResumedBarPrintsEveryTenthOfWhatIsLeft) {
  ::testing::internal::CaptureStdout();
  {
    dm::Progress bar("train", 8000, 7000);  // 7000 done before: 1000 to go
    for (int i = 7001; i <= 8000; ++i) bar.update(i);
    bar.finish();
  }
  const std::string out = ::testing::internal::GetCapturedStdout();
  int lines = 0;
  for (char c : out) lines += c == '\n';
  EXPECT_GE(lines, 10) << "a line every 100 of the 1000 steps left, not every 800:\n" << out;
  EXPECT_LE(lines, 12) << out;
  EXPECT_THAT(out, HasSubstr("7101/8000"));
}
