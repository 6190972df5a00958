#include "dm/runtime.hpp"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <fmt/core.h>
#include <sched.h>
#include <torch/types.h>

#include <thread>

#include "dm/cli.hpp"

namespace dm {

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

void init_runtime(const CommonFlags& flags) {
  const int threads = flags.threads > 0 ? flags.threads : available_cores();
  at::set_num_threads(threads);
  torch::manual_seed(flags.seed);
  if (flags.deterministic) at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/false);
  fmt::print("[{}] track {} | {} CPU thread{} | seed {}{}{}\n", flags.chapter, track(), threads,
             threads == 1 ? "" : "s", flags.seed, flags.deterministic ? " | deterministic" : "",
             flags.quick ? " | quick mode" : "");
}

}  // namespace dm
