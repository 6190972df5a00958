// Euler-Maruyama for the VP-SDE on the GPU (see em_gpu.hpp): one thread per path,
// curand Philox normals, moments summed with warp shuffles and one atomicAdd per warp.
#include <cuda_runtime.h>
#include <curand_kernel.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "dm/errors.hpp"
#include "em_gpu.hpp"

namespace dm::ch01 {

namespace {

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw dm::UserError(std::string(what) + ": " + cudaGetErrorString(err));
}

// ANCHOR: vp_em_kernel
// Thread p simulates path p:  x <- x - 1/2 beta(t_k) x dt + sqrt(beta(t_k) dt) z,  z ~ N(0, 1).
// sums[2 s], sums[2 s + 1] accumulate x and x^2 at the s-th recording time.
__global__ void vp_em_kernel(double beta_min, double beta_max, double x0, long long n_paths, int n_steps,
                             int save_every, unsigned long long seed, double* sums, double* final_x, long long n_keep) {
  const long long p = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  const bool active = p < n_paths;  // inactive threads still take part in the warp sums (adding 0)
  curandStatePhilox4_32_10_t rng;
  curand_init(seed, /*subsequence=*/p, /*offset=*/0, &rng);  // independent stream per path
  const double dt = 1.0 / n_steps;
  double x = x0;
  for (int k = 0; k <= n_steps; ++k) {
    if (k % save_every == 0) {  // record x at t_k, summed over the warp
      double s1 = active ? x : 0.0, s2 = active ? x * x : 0.0;
      for (int off = 16; off > 0; off /= 2) {
        s1 += __shfl_down_sync(0xffffffffu, s1, off);
        s2 += __shfl_down_sync(0xffffffffu, s2, off);
      }
      if ((threadIdx.x & 31) == 0) {
        atomicAdd(&sums[2 * (k / save_every)], s1);
        atomicAdd(&sums[2 * (k / save_every) + 1], s2);
      }
    }
    if (k == n_steps) break;
    const double beta = beta_min + (k * dt) * (beta_max - beta_min);  // beta at the left end t_k
    const double z = curand_normal_double(&rng);
    x += -0.5 * beta * x * dt + sqrt(beta * dt) * z;
  }
  if (active && p < n_keep) final_x[p] = x;
}
// ANCHOR_END: vp_em_kernel

}  // namespace

bool gpu_available(std::string* why) {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver) {  // no GPU, or no driver for one
    if (why) *why = "no GPU found";
    cudaGetLastError();
    return false;
  }
  if (err != cudaSuccess) {
    if (why) *why = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return false;
  }
  if (n == 0) {
    if (why) *why = "no GPU found";
    return false;
  }
  return true;
}

VpMoments simulate_vp_gpu(const VpGpuConfig& cfg) {
  if (cfg.n_paths < 1 || cfg.n_steps < 1 || cfg.n_save < 2 || cfg.n_steps % (cfg.n_save - 1) != 0 || cfg.n_keep < 0 ||
      cfg.n_keep > cfg.n_paths)
    throw std::invalid_argument(
        "simulate_vp_gpu: need n_paths, n_steps >= 1, n_save >= 2 with (n_save - 1) | "
        "n_steps, 0 <= n_keep <= n_paths");
  std::string why;
  if (!gpu_available(&why)) throw dm::UserError("simulate_vp_gpu: no usable GPU (" + why + ")");

  VpMoments out;
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  out.device = prop.name;

  const int save_every = cfg.n_steps / (cfg.n_save - 1);
  double *sums = nullptr, *final_x = nullptr;
  check(cudaMalloc(&sums, sizeof(double) * 2 * cfg.n_save), "cudaMalloc");
  check(cudaMemset(sums, 0, sizeof(double) * 2 * cfg.n_save), "cudaMemset");
  check(cudaMalloc(&final_x, sizeof(double) * (cfg.n_keep > 0 ? cfg.n_keep : 1)), "cudaMalloc");

  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  const int threads = 256;
  const auto blocks = static_cast<unsigned>((cfg.n_paths + threads - 1) / threads);
  check(cudaEventRecord(start), "cudaEventRecord");
  vp_em_kernel<<<blocks, threads>>>(cfg.beta_min, cfg.beta_max, cfg.x0, cfg.n_paths, cfg.n_steps, save_every, cfg.seed,
                                    sums, final_x, cfg.n_keep);
  check(cudaGetLastError(), "vp_em_kernel launch");
  check(cudaEventRecord(stop), "cudaEventRecord");
  check(cudaEventSynchronize(stop), "vp_em_kernel");
  float ms = 0;
  check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
  out.kernel_ms = ms;

  std::vector<double> host(2 * cfg.n_save);
  check(cudaMemcpy(host.data(), sums, sizeof(double) * host.size(), cudaMemcpyDeviceToHost), "cudaMemcpy");
  out.final_x.resize(static_cast<std::size_t>(cfg.n_keep));
  if (cfg.n_keep > 0)
    check(cudaMemcpy(out.final_x.data(), final_x, sizeof(double) * cfg.n_keep, cudaMemcpyDeviceToHost), "cudaMemcpy");
  cudaFree(sums);
  cudaFree(final_x);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);

  const double n = static_cast<double>(cfg.n_paths);
  for (int s = 0; s < cfg.n_save; ++s) {
    const double m = host[2 * s] / n;
    out.t.push_back(static_cast<double>(s) / (cfg.n_save - 1));
    out.mean.push_back(m);
    out.var.push_back(host[2 * s + 1] / n - m * m);
  }
  return out;
}

}  // namespace dm::ch01
