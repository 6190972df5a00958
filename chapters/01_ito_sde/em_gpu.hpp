// Euler-Maruyama for the VP-SDE on a GPU: one CUDA thread per path, normals from
// curand's Philox generator. Built from em_cuda.cu when CMake found nvcc, else
// from em_gpu_stub.cpp (gpu_available() then says "built without CUDA").
//
//   dx = -1/2 beta(t) x dt + sqrt(beta(t)) dW,   beta(t) = beta_min + t (beta_max - beta_min),  t in [0, 1]
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dm::ch01 {

struct VpGpuConfig {
  double beta_min = 0.1;
  double beta_max = 20.0;
  double x0 = 1.0;                 // every path starts here
  std::int64_t n_paths = 1 << 20;  // independent paths (one thread each)
  int n_steps = 1000;              // Euler-Maruyama steps of dt = 1 / n_steps over [0, 1]
  int n_save = 11;                 // moments recorded at n_save equally spaced times, t = 0 and t = 1 included;
                                   // (n_save - 1) must divide n_steps
  std::int64_t n_keep = 0;         // X_1 of the first n_keep paths is copied back (histograms)
  std::uint64_t seed = 0;
};

struct VpMoments {
  std::vector<double> t;        // [n_save] the recording times
  std::vector<double> mean;     // [n_save] sample mean of x_t over the paths
  std::vector<double> var;      // [n_save] sample variance (1/n) of x_t
  std::vector<double> final_x;  // [n_keep] x_1 of the first paths
  double kernel_ms = 0;         // time of the simulation kernel
  std::string device;           // the GPU's name
};

// True when a CUDA device can be used. Otherwise false and, if `why` is given, the
// reason: cudaGetDeviceCount's error text, or "built without CUDA".
bool gpu_available(std::string* why = nullptr);

// Simulates cfg.n_paths paths on GPU 0. Throws dm::UserError when no GPU can be
// used or a CUDA call fails, and std::invalid_argument on an inconsistent cfg.
VpMoments simulate_vp_gpu(const VpGpuConfig& cfg);

}  // namespace dm::ch01
