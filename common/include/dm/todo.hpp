// DM_TODO(id): the body of an exercise the student has not written yet.
//
// The generated stub compiles, so the whole course builds on day one, and fails
// at run time naming the exercise and where it lives:
//   exercise 02.3 is not implemented yet (exercises/02_forward_noising/forward.cpp:41)
// It throws (rather than aborts) so one missing exercise fails only its own
// tests and a chapter program can print the message and exit cleanly.
#pragma once

#include <stdexcept>
#include <string>

namespace dm {

struct NotImplemented : std::logic_error {
  using std::logic_error::logic_error;
};

[[noreturn]] void todo(const char* exercise_id, const char* file, int line);

}  // namespace dm

#define DM_TODO(id) ::dm::todo(id, __FILE__, __LINE__)
