#include "dm/nn/oom.hpp"

namespace dm::nn {

bool is_out_of_memory(const c10::Error& e) {
  const std::string msg = e.what_without_backtrace();
  return msg.find("out of memory") != std::string::npos || msg.find("OutOfMemory") != std::string::npos;
}

}  // namespace dm::nn
