// The Fréchet distance between two Gaussians N(mu1, S1) and N(mu2, S2): the quantity behind FID.
//
// It is the squared 2-Wasserstein distance between the two Gaussians (Dowson & Landau 1982); lesson 03,
// "FID: the Fréchet distance of two Gaussians", gives it. Its trace term needs the square root of a
// matrix built from S1 and S2. Heusel et al. 2017 and the reference FID code take it of S1 S2, which is
// not symmetric; the lesson's form uses a matrix similar to S1 S2 (the same eigenvalues) that is
// symmetric positive semi-definite, so its square root needs only a symmetric eigensolver.
// The course's trusted version is dm::eval::frechet_distance (dm/eval/metrics.hpp).
#pragma once

#include <Eigen/Dense>

namespace dm::ch03 {

// ---- 03.5 --------------------------------------------------------------------------------------------
// The symmetric positive semi-definite square root R of a symmetric PSD matrix S (R R = S), with
// eigenvalues that round-off pushes below 0 treated as 0.
//   s            [D, D];  returns [D, D]
Eigen::MatrixXd sqrtm_psd(const Eigen::MatrixXd& s);

//   mu1, mu2     [D] means
//   s1, s2       [D, D] symmetric PSD covariances
//   returns      the Fréchet distance (>= 0; clamp round-off below 0 to 0)
double frechet_distance(const Eigen::VectorXd& mu1, const Eigen::MatrixXd& s1, const Eigen::VectorXd& mu2,
                        const Eigen::MatrixXd& s2);

}  // namespace dm::ch03
