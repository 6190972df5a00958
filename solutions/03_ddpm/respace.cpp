// Respacing a trained schedule to K sampling steps (see respace.hpp).
#include "03_ddpm/respace.hpp"

#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

namespace dm::ch03 {

Respaced respace(const Schedule& s, std::int64_t K) {
  const std::int64_t T = s.T();
  if (K < 1 || K > T)
    throw std::invalid_argument("respace: need 1 <= K <= T sampling steps, got K = " + std::to_string(K) +
                                " for T = " + std::to_string(T));
  Respaced r;
  r.timesteps.reserve(static_cast<std::size_t>(K));
  for (std::int64_t k = 0; k < K; ++k)
    r.timesteps.push_back(K == 1 ? T - 1 : std::int64_t(std::nearbyint(double(k) * double(T - 1) / double(K - 1))));
  const auto opts = torch::TensorOptions().dtype(torch::kLong).device(s.alpha_bar.device());
  const auto idx = torch::tensor(r.timesteps, torch::kLong).to(opts.device());
  const auto alpha_bar = s.alpha_bar.to(torch::kFloat64).index_select(0, idx);  // the K levels, exact
  // Step k keeps alpha_bar[S_k] / alpha_bar[S_{k-1}] of the variance; step 0 starts from the data.
  const auto before = torch::cat({torch::ones({1}, alpha_bar.options()), alpha_bar.slice(0, 0, K - 1)});
  r.schedule.alpha = alpha_bar / before;
  r.schedule.beta = 1.0 - r.schedule.alpha;
  r.schedule.alpha_bar = alpha_bar;
  return r;
}

EpsModel at_original_timesteps(EpsModel eps_theta, const Respaced& r) {
  const auto S = torch::tensor(r.timesteps, torch::kLong);
  return [eps_theta = std::move(eps_theta), S](const torch::Tensor& x_t, const torch::Tensor& t) {
    return eps_theta(x_t, S.to(t.device()).index_select(0, t.to(torch::kLong)));
  };
}

}  // namespace dm::ch03
