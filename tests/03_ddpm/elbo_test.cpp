// Exercise 03.8: the ELBO's terms. gaussian_kl is checked against a Monte-Carlo estimate of
// E_q[log q - log p] (at 5 standard errors) and its two exact properties (0 for equal Gaussians, > 0
// otherwise); elbo_weights against the KL of the two means computed here from the posterior
// coefficients and the mean of the reverse step, for both variances, at t where every factor matters.
// The likeliest mistakes, each named by a test below:
//   - the KL with its arguments swapped (KL(p || q)), without its 1/2, or with standard deviations for
//     variances
//   - lambda with sigma_t^2 of the other variance choice, without the 1/2 of the KL, with alpha_bar_t for
//     alpha_t, with beta_t for beta_t^2; lambda[0] not 0 (or not finite)
// Run one test: build/default/bin/test_03_exercises --gtest_filter='GaussianKl.*:ElboWeights.*'
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "03_ddpm/elbo.hpp"
#include "ch03_reference.hpp"
#include "testing.hpp"

using namespace dm::ch03;
using dm::testing::fixed_normal;
using dm::testing::seed_note;

namespace {

const Schedule& sched() {
  static const Schedule s = test::linear_schedule();
  return s;
}

torch::Tensor f64(std::vector<double> v) { return torch::tensor(v, torch::kFloat64); }

// E_q[log q(x) - log p(x)] from n draws of x ~ q, and its standard error.
std::pair<double, double> kl_monte_carlo(double mq, double vq, double mp, double vp, std::int64_t n,
                                         std::uint64_t seed) {
  auto x = mq + std::sqrt(vq) * fixed_normal({n}, seed).to(torch::kFloat64);
  auto d = 0.5 * (std::log(vp / vq) + (x - mp).pow(2) / vp - (x - mq).pow(2) / vq);
  return {d.mean().item<double>(), d.std().item<double>() / std::sqrt(double(n))};
}

std::string kl_mistake(double got, double mq, double vq, double mp, double vp) {
  auto kl = [](double m1, double v1, double m2, double v2) {
    return 0.5 * (std::log(v2 / v1) + (v1 + (m1 - m2) * (m1 - m2)) / v2 - 1);
  };
  auto close = [&](double w) { return std::abs(got - w) < 1e-9 * (1 + std::abs(w)); };
  if (close(kl(mp, vp, mq, vq))) return "the arguments are swapped: this is KL(p || q), not KL(q || p)";
  if (close(2 * kl(mq, vq, mp, vp))) return "the KL is missing its factor 1/2";
  if (close(0.5 * (std::log(vq / vp) + (vq + (mq - mp) * (mq - mp)) / vp - 1)))
    return "the log term is log(var_p / var_q), not log(var_q / var_p)";
  if (close(kl(mq, vq * vq, mp, vp * vp)))
    return "var_q and var_p are variances already; they were squared like standard deviations";
  return "";
}

// The reverse step's mean minus the posterior mean, over 2 sigma_t^2, summed over pixels: the part of
// L_{t-1} that depends on the network. Both means written out here in doubles.
double kl_mean_term(const Schedule& s, std::int64_t t, Variance var, const torch::Tensor& x0, const torch::Tensor& eps,
                    const torch::Tensor& eps_theta) {
  const auto c = test::scalars(s, t);
  auto x_t = std::sqrt(c.ab) * x0 + std::sqrt(1 - c.ab) * eps;
  auto mu_tilde =
      std::sqrt(c.ab_prev) * c.beta / (1 - c.ab) * x0 + std::sqrt(c.alpha) * (1 - c.ab_prev) / (1 - c.ab) * x_t;
  auto mu_theta = (x_t - c.beta / std::sqrt(1 - c.ab) * eps_theta) / std::sqrt(c.alpha);
  const double sigma2 = var == Variance::Beta ? c.beta : c.beta_tilde;
  return ((mu_tilde - mu_theta).pow(2) / (2 * sigma2)).sum().item<double>();
}

std::string weight_mistake(double got, const Schedule& s, std::int64_t t, Variance var) {
  const auto c = test::scalars(s, t);
  const double sigma2 = var == Variance::Beta ? c.beta : c.beta_tilde;
  const double other = var == Variance::Beta ? c.beta_tilde : c.beta;
  const double right = c.beta * c.beta / (2 * sigma2 * c.alpha * (1 - c.ab));
  auto close = [&](double w) { return std::abs(got - w) < 1e-9 * std::abs(w); };
  if (close(c.beta * c.beta / (2 * other * c.alpha * (1 - c.ab))))
    return "sigma_t^2 is the other variance choice (beta_t and beta_tilde_t swapped)";
  if (close(2 * right)) return "the weight is missing the 1/2 of the Gaussian KL";
  if (close(c.beta * c.beta / (2 * sigma2 * c.ab * (1 - c.ab))))
    return "alpha_bar_t stands where one step's alpha_t belongs (the 1/sqrt(alpha_t) of the mean)";
  if (close(c.beta / (2 * sigma2 * c.alpha * (1 - c.ab)))) return "beta_t is not squared";
  return "";
}

}  // namespace

TEST(GaussianKl, MatchesReferenceOnGoldenValues) {
  auto kl = gaussian_kl(f64({0.0, 1.0, -0.5, 2.0}), f64({1.0, 0.5, 2.0, 0.1}), f64({0.3, 1.0, 0.5, 1.0}),
                        f64({1.0, 2.0, 0.25, 0.1}));
  EXPECT_TRUE(dm::testing::golden(test::kGolden, "gaussian_kl", kl, 1e-12, 1e-10));
}

TEST(GaussianKl, IsZeroForEqualGaussiansAndPositiveOtherwise) {
  auto m = f64({-1.0, 0.0, 2.5}), v = f64({0.01, 1.0, 7.0});
  auto same = gaussian_kl(m, v, m, v);
  EXPECT_TRUE(dm::testing::tensors_close("KL(q || q)", same, torch::zeros_like(m), 1e-12, 0));
  auto kl = gaussian_kl(m, v, m + 0.1, v * 1.5);
  EXPECT_TRUE((kl > 0).all().item<bool>()) << "KL(q || p) > 0 when p differs from q: got " << kl;
  EXPECT_EQ(gaussian_kl(m.to(torch::kFloat32), v.to(torch::kFloat32), m.to(torch::kFloat32), v.to(torch::kFloat32))
                .scalar_type(),
            torch::kFloat32)
      << "the result has mu_q's dtype";
}

TEST(GaussianKl, AgreesWithAMonteCarloEstimate) {
  const std::vector<std::vector<double>> cases = {{0.0, 1.0, 0.5, 2.0}, {1.0, 0.3, -0.2, 0.8}, {0.0, 2.0, 0.0, 0.5}};
  std::uint64_t seed = 720;
  for (const auto& c : cases) {
    const double got = gaussian_kl(f64({c[0]}), f64({c[1]}), f64({c[2]}), f64({c[3]}))[0].item<double>();
    const auto [mc, se] = kl_monte_carlo(c[0], c[1], c[2], c[3], 400000, seed++);
    const auto why = kl_mistake(got, c[0], c[1], c[2], c[3]);
    if (!why.empty() && std::abs(got - mc) > 5 * se) ADD_FAILURE() << "likely mistake: " << why;
    EXPECT_NEAR(got, mc, 5 * se) << "KL(N(" << c[0] << ", " << c[1] << ") || N(" << c[2] << ", " << c[3]
                                 << ")) against E_q[log q - log p] from 400000 draws";
  }
}

TEST(GaussianKl, AgreesWithAMonteCarloEstimateAtTheGradersSeed) {
  const double mq = dm::testing::seeded_scalar(730, -1, 1), mp = dm::testing::seeded_scalar(731, -1, 1);
  const double vq = dm::testing::seeded_scalar(732, 0.2, 2), vp = dm::testing::seeded_scalar(733, 0.2, 2);
  const double got = gaussian_kl(f64({mq}), f64({vq}), f64({mp}), f64({vp}))[0].item<double>();
  const auto [mc, se] = kl_monte_carlo(mq, vq, mp, vp, 400000, 734 + dm::testing::grade_seed());
  const auto why = kl_mistake(got, mq, vq, mp, vp);
  if (!why.empty() && std::abs(got - mc) > 5 * se) ADD_FAILURE() << "likely mistake: " << why << seed_note();
  EXPECT_NEAR(got, mc, 5 * se) << "KL(N(" << mq << ", " << vq << ") || N(" << mp << ", " << vp << "))" << seed_note();
}

TEST(ElboWeights, MatchReferenceOnGoldenValues) {
  auto lb = elbo_weights(sched(), Variance::Beta), lt = elbo_weights(sched(), Variance::BetaTilde);
  auto pick = torch::tensor({0, 1, 2, 10, 487, 999}, torch::kLong);
  EXPECT_TRUE(dm::testing::golden(test::kGolden, "elbo_weights/beta", lb.index_select(0, pick), 1e-12, 1e-9));
  EXPECT_TRUE(dm::testing::golden(test::kGolden, "elbo_weights/beta_tilde", lt.index_select(0, pick), 1e-12, 1e-9));
}

TEST(ElboWeights, StartAtZeroForTheDecoderTermAndStayFinite) {
  for (auto var : {Variance::Beta, Variance::BetaTilde}) {
    auto l = elbo_weights(sched(), var);
    ASSERT_EQ(l.sizes(), torch::IntArrayRef({1000})) << "one weight per timestep";
    EXPECT_EQ(l.scalar_type(), torch::kFloat64);
    EXPECT_EQ(l[0].item<double>(), 0.0) << "lambda[0] = 0: the term at t = 0 is the decoder L_0, not a KL";
    EXPECT_TRUE(torch::isfinite(l).all().item<bool>()) << "every weight is finite";
    EXPECT_TRUE((l.slice(0, 1) > 0).all().item<bool>()) << "every KL weight for t >= 1 is positive";
  }
}

TEST(ElboWeights, TurnEachKlIntoAWeightedNoiseError) {
  auto x0 = fixed_normal({2, 1, 4, 4}, 740).clamp(-1, 1).to(torch::kFloat64);
  auto eps = fixed_normal({2, 1, 4, 4}, 741).to(torch::kFloat64);
  auto eps_theta = eps + 0.3 * fixed_normal({2, 1, 4, 4}, 742).to(torch::kFloat64);
  const double err = (eps - eps_theta).pow(2).sum().item<double>();
  for (auto var : {Variance::Beta, Variance::BetaTilde}) {
    auto l = elbo_weights(sched(), var);
    for (std::int64_t t : {1, 2, 10, 487, 999}) {
      const double want = kl_mean_term(sched(), t, var, x0, eps, eps_theta);
      const double got = l[t].item<double>() * err;
      const auto why = weight_mistake(l[t].item<double>(), sched(), t, var);
      const auto where =
          std::string(var == Variance::Beta ? "sigma^2 = beta" : "sigma^2 = beta_tilde") + ", t = " + std::to_string(t);
      if (!why.empty()) ADD_FAILURE() << where << ", likely mistake: " << why;
      EXPECT_NEAR(got, want, 1e-9 * want) << where << ": lambda_t |eps - eps_theta|^2 against the KL of the means";
    }
  }
}

TEST(ElboWeights, MatchTheKlOfTheMeansAtTheGradersSeed) {
  // A random increasing schedule of T steps, and random t.
  const std::int64_t T = dm::testing::seeded_steps(1, 20, 400, 750)[0].item<std::int64_t>();
  auto beta = std::get<0>(torch::sort(dm::testing::seeded_uniform({T}, 751, 1e-4, 0.05).to(torch::kFloat64)));
  auto alpha = 1 - beta;
  const Schedule s{beta, alpha, torch::cumprod(alpha, 0)};
  auto x0 = dm::testing::seeded_uniform({1, 1, 3, 3}, 752, -1, 1).to(torch::kFloat64);
  auto eps = dm::testing::seeded_normal({1, 1, 3, 3}, 753).to(torch::kFloat64);
  auto eps_theta = eps + 0.5 * dm::testing::seeded_normal({1, 1, 3, 3}, 754).to(torch::kFloat64);
  const double err = (eps - eps_theta).pow(2).sum().item<double>();
  auto ts = dm::testing::seeded_steps(4, 1, T - 1, 755);
  for (auto var : {Variance::Beta, Variance::BetaTilde}) {
    auto l = elbo_weights(s, var);
    ASSERT_EQ(l.size(0), T) << seed_note();
    EXPECT_EQ(l[0].item<double>(), 0.0) << "lambda[0] = 0" << seed_note();
    for (std::int64_t i = 0; i < ts.size(0); ++i) {
      const auto t = ts[i].item<std::int64_t>();
      const double want = kl_mean_term(s, t, var, x0, eps, eps_theta);
      const auto why = weight_mistake(l[t].item<double>(), s, t, var);
      if (!why.empty()) ADD_FAILURE() << "t = " << t << ", likely mistake: " << why << seed_note();
      EXPECT_NEAR(l[t].item<double>() * err, want, 1e-9 * want) << "T = " << T << ", t = " << t << seed_note();
    }
  }
}
