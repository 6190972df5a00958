// The CPU-only build of em_gpu.hpp: CMake found no CUDA compiler.
#include "em_gpu.hpp"

#include "dm/errors.hpp"

namespace dm::ch01 {

bool gpu_available(std::string* why) {
  if (why) *why = "built without CUDA (CMake found no nvcc; see DM_CUDA in CMakeLists.txt)";
  return false;
}

VpMoments simulate_vp_gpu(const VpGpuConfig&) {
  throw dm::UserError("simulate_vp_gpu: this build has no CUDA support (CMake found no nvcc)");
}

}  // namespace dm::ch01
