// Process-wide setup every chapter does first: threads, seeds, determinism.
#pragma once

#include <cstdint>

namespace dm {

struct CommonFlags;

// Sets torch's intra-op threads to `threads` (0: the cores this process may
// use; Debian's LibTorch otherwise runs on one), seeds torch and the std
// generators, and switches on deterministic algorithms when asked.
// Prints one line saying what it chose.
void init_runtime(const CommonFlags& flags);

// The cores this process may run on (sched_getaffinity), at least 1.
int available_cores();

// The track the running program was linked against: "solutions" or "exercises".
const char* track();

}  // namespace dm
