// Turning a GPU out-of-memory error into advice.
#pragma once

#include <string>
#include <utility>

#include <c10/util/Exception.h>

#include "dm/errors.hpp"

namespace dm::nn {

// True for c10::OutOfMemoryError and for a c10::Error whose message says "out of memory"
// (LibTorch 1.13 raises the latter for some allocations).
bool is_out_of_memory(const c10::Error& e);

// Runs f(); an out-of-memory error becomes a dm::UserError:
//   "out of memory on <what> — lower --batch (now 128), e.g. --batch 64"
template <class F>
decltype(auto) with_oom_advice(const std::string& what, long batch, F&& f) {
  try {
    return std::forward<F>(f)();
  } catch (const c10::Error& e) {
    if (!is_out_of_memory(e)) throw;
    throw dm::UserError("out of memory on " + what + " — lower --batch (now " + std::to_string(batch) +
                        "), e.g. --batch " + std::to_string(batch > 1 ? batch / 2 : 1));
  }
}

}  // namespace dm::nn
