// The Fréchet distance between two Gaussians: the quantity behind FID.
//
// FD( N(mu1, S1), N(mu2, S2) ) = ||mu1 - mu2||^2 + tr( S1 + S2 - 2 (S1^{1/2} S2 S1^{1/2})^{1/2} )
//
// It is the squared 2-Wasserstein distance between the two Gaussians (Dowson & Landau 1982).
// tr (S1^{1/2} S2 S1^{1/2})^{1/2} equals tr (S1 S2)^{1/2} (the form in Heusel et al. 2017 and the
// reference FID code): the two matrices are similar, so they have the same eigenvalues; ours is
// symmetric positive semi-definite, so its square root needs only a symmetric eigensolver.
// The course's trusted version is dm::eval::frechet_distance (dm/eval/metrics.hpp).
#pragma once

#include <Eigen/Dense>

namespace dm::ch03 {

// ---- 03.5 --------------------------------------------------------------------------------------------
// Square root of a symmetric positive semi-definite matrix: S = V diag(l) V^T -> V diag(sqrt(l)) V^T,
// with eigenvalues below 0 (round-off) clamped to 0.
Eigen::MatrixXd sqrtm_psd(const Eigen::MatrixXd& s);

//   mu1, mu2     [D] means
//   s1, s2       [D, D] symmetric PSD covariances
//   returns      the Fréchet distance (>= 0; clamp round-off below 0 to 0)
double frechet_distance(const Eigen::VectorXd& mu1, const Eigen::MatrixXd& s1, const Eigen::VectorXd& mu2,
                        const Eigen::MatrixXd& s2);

}  // namespace dm::ch03
