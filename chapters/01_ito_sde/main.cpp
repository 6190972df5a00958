// Chapter 01: Ito SDEs. Brownian motion and its four properties, Euler-Maruyama, the
// Ornstein-Uhlenbeck process and the VP-SDE against their closed-form moments, the
// exact VP step against DDPM's, and the strong and weak orders of Euler-Maruyama.
//
//   build/default/bin/solutions/01_ito_sde --quick
//
// Writes runs/01_ito_sde/{brownian_paths,ou_moments,vp_moments,vp_histogram,
// exact_vs_ddpm,convergence}.png and metrics.json.
#include <fmt/core.h>

#include <Eigen/Core>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "01_ito_sde/brownian.hpp"
#include "01_ito_sde/convergence.hpp"
#include "01_ito_sde/euler_maruyama.hpp"
#include "01_ito_sde/marginals.hpp"
#include "01_ito_sde/vp_step.hpp"
#include "dm/cli.hpp"
#include "dm/errors.hpp"
#include "dm/plot.hpp"
#include "dm/progress.hpp"
#include "dm/run_dir.hpp"
#include "dm/runtime.hpp"
#include "em_gpu.hpp"

namespace {

using namespace dm::ch01;
using Eigen::ArrayXd;
using Eigen::ArrayXXd;

// ANCHOR: hyperparameters
struct Hyper {
  // Brownian motion
  int bm_paths = 4000;  // paths for the Wiener-property statistics
  int bm_steps = 1024;  // steps on [0, 1] (a multiple of 64: the path is also looked at every 4, 16, 64 steps)
  int bm_shown = 30;    // paths drawn in brownian_paths.png
  // Ornstein-Uhlenbeck  dX = theta (mu - X) dt + sigma dW
  OuProcess ou{2.0, 1.0, 0.8};  // theta, mu, sigma
  double ou_x0 = 3.0;           // every path starts here
  double ou_T = 3.0;            // simulated time
  int ou_steps = 300;           // Euler-Maruyama steps (dt = T / steps)
  int ou_paths = 20000;
  // VP-SDE  dx = -1/2 beta(t) x dt + sqrt(beta(t)) dW  on [0, 1]
  VpSde vp{0.1, 20.0};               // beta_min, beta_max (Song et al. 2021)
  double vp_x0 = 1.0;                // every path starts here
  int vp_steps = 1000;               // Euler-Maruyama steps (a multiple of vp_save - 1)
  int vp_save = 51;                  // times at which the moments are recorded
  int vp_paths = 100000;             // paths on the CPU
  std::int64_t gpu_paths = 1 << 22;  // paths on the GPU
  // Convergence orders, on geometric Brownian motion  dX = lambda X dt + sigma X dW
  Gbm gbm{1.0, 0.8, 1.0, 1.0};  // lambda, sigma, x0, T
  int conv_paths = 20000;       // paths (common random numbers across step sizes)
  int conv_fine = 1024;         // fine steps of the Brownian path; EM uses 8, 16, ..., conv_fine / 2 steps
  void make_quick() {
    bm_paths = 1000;
    ou_paths = 5000;
    vp_steps = 500;
    vp_paths = 50000;
    gpu_paths = 1 << 18;
    conv_paths = 10000;
    conv_fine = 256;
  }
};
// ANCHOR_END: hyperparameters

// n i.i.d. N(0, 1) as [rows, cols], from our own Box-Muller on mt19937_64 (std::normal_distribution
// differs between standard libraries; this is the same everywhere).
ArrayXXd standard_normals(Eigen::Index rows, Eigen::Index cols, std::mt19937_64& gen) {
  ArrayXXd z(rows, cols);
  const Eigen::Index n = z.size();
  double* p = z.data();
  for (Eigen::Index i = 0; i < n; i += 2) {
    const double u1 = (static_cast<double>(gen() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
    const double u2 = static_cast<double>(gen() >> 11) * 0x1.0p-53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    p[i] = r * std::cos(6.283185307179586 * u2);
    if (i + 1 < n) p[i + 1] = r * std::sin(6.283185307179586 * u2);
  }
  return z;
}

double variance(const ArrayXd& a) { return (a - a.mean()).square().mean(); }

std::vector<double> to_vec(const ArrayXd& a) { return {a.data(), a.data() + a.size()}; }

std::vector<double> linspace(double a, double b, int n) { return to_vec(ArrayXd::LinSpaced(n, a, b)); }

// ---------------------------------------------------------------------------------------------
// 1. Brownian motion: the four properties, measured.
void brownian_section(const Hyper& hp, std::mt19937_64& gen, dm::RunDir& run) {
  fmt::print("\n== Brownian motion: {} paths, {} steps on [0, 1]\n", hp.bm_paths, hp.bm_steps);
  const double dt = 1.0 / hp.bm_steps;
  const ArrayXXd w = brownian_paths(standard_normals(hp.bm_paths, hp.bm_steps, gen), dt);  // [paths, steps + 1]
  const int half = hp.bm_steps / 2;
  const ArrayXd inc1 = w.col(half) - w.col(0), inc2 = w.col(hp.bm_steps) - w.col(half);
  const double corr = ((inc1 - inc1.mean()) * (inc2 - inc2.mean())).mean() / std::sqrt(variance(inc1) * variance(inc2));
  const double se = 1.0 / std::sqrt(static_cast<double>(hp.bm_paths));
  fmt::print("(1) W_0 = 0:                 max |W_0| = {:.3g}\n", w.col(0).abs().maxCoeff());
  fmt::print("(2) independent increments:  corr(W_1/2 - W_0, W_1 - W_1/2) = {:+.4f} (0 +- {:.4f})\n", corr, se);
  fmt::print("(3) Var(W_t - W_s) = t - s:  Var(W_1 - W_1/2) = {:.4f} (0.5),  Var(W_1) = {:.4f} (1)\n", variance(inc2),
             variance(w.col(hp.bm_steps)));
  const ArrayXd w1 = w.col(hp.bm_steps) / std::sqrt(variance(w.col(hp.bm_steps)));
  fmt::print("    Gaussian increments:     kurtosis of W_1 = {:.3f} (3)\n", w1.pow(4).mean());
  fmt::print(
      "(4) continuity: max |W_(t+dt) - W_t| over the first path shrinks with dt; its ratio to sqrt(dt)\n"
      "    grows only like sqrt(2 log n) for n steps:\n");
  std::vector<double> max_inc;
  for (int every : {64, 16, 4, 1}) {  // the same path, looked at on coarser grids
    const int n = hp.bm_steps / every;
    double m = 0;
    for (int k = 0; k < n; ++k) m = std::max(m, std::abs(w(0, (k + 1) * every) - w(0, k * every)));
    const double h = every * dt;
    fmt::print("    dt = 1/{:<5} max |dW| = {:.4f}   / sqrt(dt) = {:.2f}\n", n, m, m / std::sqrt(h));
    max_inc.push_back(m);
  }
  run.metrics()["brownian"] = {
      {"var_W1_minus_Whalf", variance(inc2)}, {"corr_increments", corr}, {"max_increment_by_dt", max_inc}};

  dm::Figure fig{"Brownian motion: sample paths and the +-sqrt(t), +-2 sqrt(t) bands", "t", "W_t"};
  const auto t = linspace(0, 1, hp.bm_steps + 1);
  for (int p = 0; p < std::min(hp.bm_shown, hp.bm_paths); ++p)
    fig.line(t, to_vec(w.row(p).transpose()), "", dm::Style::thin(0.45));
  std::vector<double> up(t.size()), up2(t.size()), dn(t.size()), dn2(t.size());
  for (std::size_t i = 0; i < t.size(); ++i) {
    up[i] = std::sqrt(t[i]);
    dn[i] = -up[i];
    up2[i] = 2 * up[i];
    dn2[i] = -up2[i];
  }
  dm::Style band = dm::Style::dashed();
  band.color = cv::Scalar(0, 0, 0);
  band.thickness = 3;
  dm::Style band2 = band;
  band2.color = cv::Scalar(90, 90, 90);
  band2.thickness = 2;
  fig.line(t, up, "+-sqrt(t): one standard deviation", band).line(t, dn, "", band);
  fig.line(t, up2, "+-2 sqrt(t)", band2).line(t, dn2, "", band2);
  fig.save(run.file("brownian_paths.png"));
}

// ---------------------------------------------------------------------------------------------
// 2. Ornstein-Uhlenbeck: Euler-Maruyama against the closed-form moments.
void ou_section(const Hyper& hp, std::mt19937_64& gen, dm::RunDir& run) {
  const OuProcess& ou = hp.ou;
  const double dt = hp.ou_T / hp.ou_steps;
  fmt::print("\n== Ornstein-Uhlenbeck dX = {} ({} - X) dt + {} dW, X_0 = {}: {} paths, dt = {}\n", ou.theta, ou.mu,
             ou.sigma, hp.ou_x0, hp.ou_paths, dt);
  // ANCHOR: ou_simulation
  const Coefficient mu = [&](const ArrayXd& x, double) -> ArrayXd { return ou.theta * (ou.mu - x); };
  const Coefficient sigma = [&](const ArrayXd& x, double) -> ArrayXd { return ArrayXd::Constant(x.size(), ou.sigma); };
  const ArrayXXd x = euler_maruyama(mu, sigma, ArrayXd::Constant(hp.ou_paths, hp.ou_x0), 0.0, dt,
                                    standard_normals(hp.ou_paths, hp.ou_steps, gen));  // [paths, steps + 1]
  // ANCHOR_END: ou_simulation
  std::vector<double> t, m_sim, v_sim, m_cf, v_cf;
  double max_m = 0, max_v = 0;
  for (int k = 0; k <= hp.ou_steps; ++k) {
    const auto cf = ou_marginal(ou, hp.ou_x0, k * dt);
    t.push_back(k * dt);
    m_sim.push_back(x.col(k).mean());
    v_sim.push_back(variance(x.col(k)));
    m_cf.push_back(cf.mean);
    v_cf.push_back(cf.var);
    max_m = std::max(max_m, std::abs(m_sim.back() - cf.mean));
    max_v = std::max(max_v, std::abs(v_sim.back() - cf.var));
  }
  const auto end = ou_marginal(ou, hp.ou_x0, hp.ou_T);
  fmt::print("OU at t={}: mean {:.4f} (closed form {:.4f}), var {:.4f} (closed form {:.4f}, stationary {:.4f})\n",
             hp.ou_T, m_sim.back(), end.mean, v_sim.back(), end.var, ou.sigma * ou.sigma / (2 * ou.theta));
  fmt::print("OU max |error| over t: mean {:.4f}, var {:.4f}\n", max_m, max_v);
  run.metrics()["ou"] = {{"max_mean_error", max_m}, {"max_var_error", max_v}};

  dm::Figure fm{"OU: mean of X_t", "t", "E[X_t]"}, fv{"OU: variance of X_t", "t", "Var[X_t]"};
  fm.line(t, m_sim, "Euler-Maruyama").line(t, m_cf, "closed form", dm::Style::dashed());
  fv.line(t, v_sim, "Euler-Maruyama").line(t, v_cf, "closed form", dm::Style::dashed());
  dm::save_png(run.file("ou_moments.png"), dm::hstack({fm.render(), fv.render()}));
}

// ---------------------------------------------------------------------------------------------
// 3. The VP-SDE: Euler-Maruyama (CPU or GPU) against the closed-form moments.
struct VpRun {
  std::vector<double> t, mean, var;
  std::vector<double> final_x;
  std::string where;
  double n_paths = 1;
};

VpRun vp_cpu(const Hyper& hp, std::mt19937_64& gen) {
  const VpSde& sde = hp.vp;
  const double dt = 1.0 / hp.vp_steps;
  const int every = hp.vp_steps / (hp.vp_save - 1);
  // ANCHOR: vp_simulation
  const Coefficient mu = [&](const ArrayXd& x, double t) -> ArrayXd { return -0.5 * sde.beta(t) * x; };
  const Coefficient sigma = [&](const ArrayXd& x, double t) -> ArrayXd {
    return ArrayXd::Constant(x.size(), std::sqrt(sde.beta(t)));
  };
  VpRun out;
  out.where = fmt::format("CPU, {} paths", hp.vp_paths);
  ArrayXd x = ArrayXd::Constant(hp.vp_paths, hp.vp_x0);  // [paths]
  dm::Progress bar("VP-SDE (CPU)", hp.vp_save - 1);
  for (int s = 0; s < hp.vp_save; ++s) {  // in chunks of `every` steps: only the current state is kept
    out.t.push_back(s * every * dt);
    out.mean.push_back(x.mean());
    out.var.push_back(variance(x));
    if (s + 1 == hp.vp_save) break;
    const ArrayXXd chunk = euler_maruyama(mu, sigma, x, out.t.back(), dt, standard_normals(hp.vp_paths, every, gen));
    x = chunk.col(every);
    bar.update(s + 1);
  }
  // ANCHOR_END: vp_simulation
  bar.finish();
  out.final_x = to_vec(x);
  out.n_paths = hp.vp_paths;
  return out;
}

VpRun vp_gpu(const Hyper& hp, std::uint64_t seed) {
  VpGpuConfig cfg;
  cfg.beta_min = hp.vp.beta_min;
  cfg.beta_max = hp.vp.beta_max;
  cfg.x0 = hp.vp_x0;
  cfg.n_paths = hp.gpu_paths;
  cfg.n_steps = hp.vp_steps;
  cfg.n_save = hp.vp_save;
  cfg.n_keep = std::min<std::int64_t>(hp.gpu_paths, 200000);
  cfg.seed = seed;
  const auto r = simulate_vp_gpu(cfg);
  fmt::print("GPU {}: {} paths x {} steps in {:.1f} ms\n", r.device, cfg.n_paths, cfg.n_steps, r.kernel_ms);
  return {r.t,
          r.mean,
          r.var,
          r.final_x,
          fmt::format("GPU ({}), {} paths", r.device, cfg.n_paths),
          static_cast<double>(cfg.n_paths)};
}

void vp_section(const Hyper& hp, const VpRun& r, dm::RunDir& run) {
  const VpSde& sde = hp.vp;
  const double dt = 1.0 / hp.vp_steps;
  fmt::print("\n== VP-SDE, beta(t) from {} to {}, x_0 = {}: Euler-Maruyama with dt = {} on the {}\n", sde.beta_min,
             sde.beta_max, hp.vp_x0, dt, r.where);
  // The Euler-Maruyama chain is linear-Gaussian: its own moments follow exactly, which
  // separates the discretisation error (chain vs closed form) from the Monte-Carlo noise.
  double em_m = hp.vp_x0, em_v = 0;
  for (int k = 0; k < hp.vp_steps; ++k) {
    const double b = sde.beta(k * dt);
    em_m *= 1 - 0.5 * b * dt;
    em_v = (1 - 0.5 * b * dt) * (1 - 0.5 * b * dt) * em_v + b * dt;
  }
  std::vector<double> m_cf, v_cf;
  double max_m = 0, max_v = 0;
  for (std::size_t i = 0; i < r.t.size(); ++i) {
    const auto cf = vp_marginal(sde, hp.vp_x0, r.t[i]);
    m_cf.push_back(cf.mean);
    v_cf.push_back(cf.var);
    max_m = std::max(max_m, std::abs(r.mean[i] - cf.mean));
    max_v = std::max(max_v, std::abs(r.var[i] - cf.var));
  }
  const auto end = vp_marginal(sde, hp.vp_x0, 1.0);
  fmt::print("VP-SDE at t=1: mean {:.4f} (closed form {:.4f}), var {:.5f} (closed form {:.5f})\n", r.mean.back(),
             end.mean, r.var.back(), end.var);
  fmt::print(
      "  the Euler-Maruyama chain's own moments: mean {:.4f}, var {:.5f} (discretisation bias of the var {:+.5f})\n",
      em_m, em_v, em_v - end.var);
  fmt::print("  max |error| over t against the closed form: mean {:.4f}, var {:.4f}\n", max_m, max_v);
  fmt::print("  (Monte-Carlo sd at t = 1: of the mean ~ {:.4f}, of the var ~ {:.4f})\n", std::sqrt(1.0 / r.n_paths),
             std::sqrt(2.0 / r.n_paths));
  run.metrics()["vp"] = {{"mean_t1", r.mean.back()},      {"mean_t1_closed_form", end.mean}, {"var_t1", r.var.back()},
                         {"var_t1_closed_form", end.var}, {"max_mean_error", max_m},         {"max_var_error", max_v},
                         {"em_chain_var_t1", em_v},       {"simulated_on", r.where}};

  dm::Figure fm{"VP-SDE: mean of x_t (x_0 = " + fmt::format("{}", hp.vp_x0) + ")", "t", "E[x_t]"};
  dm::Figure fv{"VP-SDE: variance of x_t", "t", "Var[x_t]"};
  fm.line(r.t, r.mean, "Euler-Maruyama").line(r.t, m_cf, "x0 exp(-B(t)/2)", dm::Style::dashed());
  fv.line(r.t, r.var, "Euler-Maruyama").line(r.t, v_cf, "1 - exp(-B(t))", dm::Style::dashed());
  dm::save_png(run.file("vp_moments.png"), dm::hstack({fm.render(), fv.render()}));

  dm::Figure fh{"VP-SDE: histogram of x_1 against N(x0 e^(-B/2), 1 - e^(-B))", "x_1", "density"};
  fh.histogram(r.final_x, 60, fmt::format("Euler-Maruyama, {} paths", r.final_x.size()));
  std::vector<double> xs = linspace(-4.5, 4.5, 301), pdf;
  for (double v : xs)
    pdf.push_back(std::exp(-0.5 * (v - end.mean) * (v - end.mean) / end.var) / std::sqrt(6.283185307179586 * end.var));
  dm::Style dens;
  dens.thickness = 3;
  fh.line(xs, pdf, "closed-form density", dens);
  fh.save(run.file("vp_histogram.png"));
}

// ---------------------------------------------------------------------------------------------
// 4. The exact VP step against DDPM's step.
void exact_vs_ddpm_section(const Hyper& hp, dm::RunDir& run) {
  fmt::print("\n== Exact VP step x' = e^(-b/2) x + sqrt(1 - e^(-b)) z  against DDPM's  sqrt(1 - b) x + sqrt(b) z\n");
  std::vector<double> betas, e_signal, e_noise, e_var, ref2, ref15;
  for (int i = 0; i <= 40; ++i) {
    const double b = std::pow(10.0, -4.0 + 4.0 * i / 40.0);  // 1e-4 .. 1
    const auto ex = exact_step_coefficients(b), dd = ddpm_step_coefficients(b);
    betas.push_back(b);
    e_signal.push_back(std::abs(ex.signal - dd.signal));
    e_noise.push_back(std::abs(ex.noise - dd.noise));
    e_var.push_back(std::abs(ex.noise * ex.noise - dd.noise * dd.noise));  // one-step variance from a fixed x
    ref2.push_back(b * b / 4);
    ref15.push_back(std::pow(b, 1.5) / 4);
  }
  for (double b : {1e-3, 1e-2, 1e-1}) {
    const auto ex = exact_step_coefficients(b), dd = ddpm_step_coefficients(b);
    fmt::print("beta = {:<6}: signal {:.8f} vs {:.8f} (error {:.2e}),  noise {:.6f} vs {:.6f} (error {:.2e})\n", b,
               ex.signal, dd.signal, ex.signal - dd.signal, ex.noise, dd.noise, dd.noise - ex.noise);
  }
  // Over a whole chain the per-step errors add up: N steps of size ~1/N give an O(1/N) error.
  fmt::print("DDPM chain with beta_i = B(t_i, t_i+1) against the exact marginal at t = 1 (x_0 = 1):\n");
  nlohmann::json chain = nlohmann::json::array();
  for (int n : {20, 100, 1000}) {  // N = 10 would need beta_i = 1.9 > 1 at the end: no DDPM step exists
    double sig = 1, var = 0;
    for (int i = 0; i < n; ++i) {
      const auto c = ddpm_step_coefficients(vp_int_beta(hp.vp, double(i) / n, double(i + 1) / n));
      sig *= c.signal;
      var = c.signal * c.signal * var + c.noise * c.noise;
    }
    const auto cf = vp_marginal(hp.vp, 1.0, 1.0);
    fmt::print("  N = {:<5} mean {:.6f} (exact {:.6f}, error {:.2e}),  var {:.6f} (exact {:.6f})\n", n, sig, cf.mean,
               sig - cf.mean, var, cf.var);
    chain.push_back({{"N", n}, {"mean_error", sig - cf.mean}, {"var_error", var - cf.var}});
  }
  run.metrics()["exact_vs_ddpm"] = {{"ddpm_chain", chain}};

  dm::Figure f{"Exact VP step vs DDPM step: coefficient errors", "beta (integrated over the step)", "|error|"};
  f.logx().logy();
  f.line(betas, e_signal, "|e^(-b/2) - sqrt(1-b)|  (signal)");
  f.line(betas, e_noise, "|sqrt(1-e^(-b)) - sqrt(b)|  (noise)");
  f.line(betas, e_var, "|(1-e^(-b)) - b|  (one-step variance)");
  dm::Style ref = dm::Style::dashed();
  ref.thickness = 1;
  ref.color = cv::Scalar(0, 0, 0);
  f.line(betas, ref2, "b^2 / 4  (slope 2)", ref);
  ref.color = cv::Scalar(120, 120, 120);
  f.line(betas, ref15, "b^1.5 / 4  (slope 1.5)", ref);
  f.save(run.file("exact_vs_ddpm.png"));
}

// ---------------------------------------------------------------------------------------------
// 5. Strong and weak orders of Euler-Maruyama on geometric Brownian motion.
void convergence_section(const Hyper& hp, std::mt19937_64& gen, dm::RunDir& run) {
  const Gbm& g = hp.gbm;
  fmt::print("\n== Convergence on GBM dX = {} X dt + {} X dW, X_0 = {}, T = {}: {} paths, fine grid {} steps\n",
             g.lambda, g.sigma, g.x0, g.T, hp.conv_paths, hp.conv_fine);
  // ANCHOR: convergence_run
  const ArrayXXd z = standard_normals(hp.conv_paths, hp.conv_fine, gen);  // one Brownian path per row
  std::vector<double> h, strong, weak, weak_exact;
  for (int n = 8; n <= hp.conv_fine / 2; n *= 2) {
    const auto e = gbm_em_errors(g, z, n);
    h.push_back(e.h);
    strong.push_back(e.strong);
    weak.push_back(e.weak);
    weak_exact.push_back(g.x0 * std::abs(std::exp(g.lambda * g.T) - std::pow(1 + g.lambda * e.h, n)));
    fmt::print(
        "  h = 1/{:<4} strong {:.5f}   weak {:.5f}   (weak, closed form |e^(lambda T) - (1 + lambda h)^N| = {:.5f})\n",
        n, e.strong, e.weak, weak_exact.back());
  }
  const double p_strong = loglog_slope(h, strong), p_weak = loglog_slope(h, weak);
  // ANCHOR_END: convergence_run
  fmt::print("strong order {:.2f}, weak order {:.2f}   (theory: 1/2 and 1)\n", p_strong, p_weak);
  run.metrics()["convergence"] = {
      {"strong_order", p_strong}, {"weak_order", p_weak}, {"h", h},
      {"strong_error", strong},   {"weak_error", weak},   {"weak_error_closed_form", weak_exact}};

  std::vector<double> ref_half, ref_one;
  for (double v : h) {
    ref_half.push_back(strong.front() * std::sqrt(v / h.front()));
    ref_one.push_back(weak.front() * v / h.front());
  }
  dm::Figure f{"Euler-Maruyama on GBM: strong and weak errors", "step h", "error"};
  f.logx().logy();
  auto colored = [](dm::Style st, cv::Scalar c) {
    st.color = c;
    return st;
  };
  const cv::Scalar blue(180, 119, 31), green(44, 160, 44);  // BGR
  f.scatter(h, strong, fmt::format("strong  E|X_N - X_T|  (slope {:.2f})", p_strong),
            colored(dm::Style::points(5, 1.0), blue));
  f.line(h, strong, "", colored({}, blue));
  f.scatter(h, weak, fmt::format("weak  |E X_N - E X_T|  (slope {:.2f})", p_weak),
            colored(dm::Style::points(5, 1.0), green));
  f.line(h, weak, "", colored({}, green));
  f.line(h, ref_half, "reference slope 1/2", colored(dm::Style::dashed(), cv::Scalar(0, 0, 0)));
  f.line(h, ref_one, "reference slope 1", colored(dm::Style::dashed(), cv::Scalar(120, 120, 120)));
  f.save(run.file("convergence.png"));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Chapter 01: Ito SDEs (Brownian motion, Euler-Maruyama, OU, the VP-SDE, convergence orders)"};
  dm::CommonFlags flags{"01_ito_sde"};
  dm::add_common_flags(app, flags);
  Hyper hp;
  int vp_paths = 0, conv_paths = 0;
  app.add_option("--vp-paths", vp_paths, "VP-SDE paths on the CPU (0: the default, 100000; 50000 with --quick)")
      ->check(CLI::Range(0, 10000000));
  app.add_option("--vp-steps", hp.vp_steps, "VP-SDE Euler-Maruyama steps (a multiple of 50)")
      ->check(CLI::Range(50, 100000))
      ->capture_default_str();
  app.add_option("--beta-max", hp.vp.beta_max, "beta(1) of the VP schedule")
      ->check(CLI::Range(0.1, 100.0))
      ->capture_default_str();
  app.add_option("--conv-paths", conv_paths,
                 "paths of the convergence study (0: the default, 20000; 10000 with --quick)")
      ->check(CLI::Range(0, 1000000));
  app.add_option("--gbm-lambda", hp.gbm.lambda, "lambda of the GBM drift")
      ->check(CLI::Range(-5.0, 5.0))
      ->capture_default_str();
  app.add_option("--gbm-sigma", hp.gbm.sigma, "sigma of the GBM diffusion")
      ->check(CLI::Range(0.0, 3.0))
      ->capture_default_str();

  return dm::run_main(app, argc, argv, [&] {
    const auto start = std::chrono::steady_clock::now();
    if (flags.quick) {
      const int steps = hp.vp_steps == Hyper{}.vp_steps ? -1 : hp.vp_steps;
      hp.make_quick();
      if (steps > 0) hp.vp_steps = steps;
    }
    if (vp_paths > 0) hp.vp_paths = vp_paths;
    if (conv_paths > 0) hp.conv_paths = conv_paths;
    if (hp.vp_steps % (hp.vp_save - 1) != 0)
      throw dm::UsageError(fmt::format("--vp-steps must be a multiple of {}", hp.vp_save - 1));
    dm::init_runtime(flags);
    fmt::print("linked against the {} track\n", dm::track());

    // The device for the VP-SDE moments: the CUDA kernel when asked for or available.
    std::string why;
    const bool have_gpu = gpu_available(&why);
    if (flags.device == "cuda" && !have_gpu) throw dm::UsageError("--device cuda: no usable GPU (" + why + ")");
    const bool use_gpu = have_gpu && flags.device != "cpu";
    fmt::print("VP-SDE simulation on the {}{}\n", use_gpu ? "GPU" : "CPU",
               use_gpu ? "" : (flags.device == "cpu" ? " (--device cpu)" : " (" + why + ")"));

    dm::RunDir run(flags.out_root, flags.chapter);
    std::mt19937_64 gen(flags.seed);
    brownian_section(hp, gen, run);
    ou_section(hp, gen, run);
    const VpRun vp = use_gpu ? vp_gpu(hp, flags.seed) : vp_cpu(hp, gen);
    vp_section(hp, vp, run);
    exact_vs_ddpm_section(hp, run);
    convergence_section(hp, gen, run);

    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    run.metrics()["gpu_used"] = use_gpu;
    run.metrics()["quick"] = flags.quick;
    run.metrics()["seconds"] = secs;
    run.save_metrics();
    fmt::print(
        "\nwrote {} (brownian_paths, ou_moments, vp_moments, vp_histogram, exact_vs_ddpm, convergence .png, "
        "metrics.json) in {:.1f} s\n",
        run.path().string(), secs);
    return 0;
  });
}
