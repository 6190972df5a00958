// Errors a person can act on: bad data, bad paths, bad values. Chapter programs
// print the message (no stack trace) and exit with status 1; usage errors exit 2.
#pragma once

#include <stdexcept>

namespace dm {

// The input is wrong (missing or corrupt data file, unwritable folder, bad
// checkpoint). The message says what was expected and how to fix it.
struct UserError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A flag has a value outside its range; reported like a parse error (exit 2).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace dm
