// Exercise 03.5: the Fréchet distance of two Gaussians.
#include "03_ddpm/frechet.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>

#include "dm/todo.hpp"

namespace dm::ch03 {

// ANCHOR: frechet
Eigen::MatrixXd sqrtm_psd(const Eigen::MatrixXd& s) {
  // BEGIN SOLUTION 03.5
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(0.5 * (s + s.transpose()));
  Eigen::VectorXd root = es.eigenvalues().cwiseMax(0.0).cwiseSqrt();
  return es.eigenvectors() * root.asDiagonal() * es.eigenvectors().transpose();
  // BEGIN STUB
  // // Eigen::SelfAdjointEigenSolver gives eigenvalues() and eigenvectors()
  // DM_TODO("03.5");
  // END STUB
  // END SOLUTION
}

double frechet_distance(const Eigen::VectorXd& mu1, const Eigen::MatrixXd& s1, const Eigen::VectorXd& mu2,
                        const Eigen::MatrixXd& s2) {
  // BEGIN SOLUTION 03.5
  const Eigen::MatrixXd r1 = sqrtm_psd(s1);
  const Eigen::MatrixXd m = r1 * s2 * r1;  // similar to S1 S2, but symmetric PSD
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(0.5 * (m + m.transpose()), Eigen::EigenvaluesOnly);
  const double tr_sqrt = es.eigenvalues().cwiseMax(0.0).cwiseSqrt().sum();  // tr (S1^1/2 S2 S1^1/2)^1/2
  const double fd = (mu1 - mu2).squaredNorm() + s1.trace() + s2.trace() - 2.0 * tr_sqrt;
  return std::max(fd, 0.0);
  // BEGIN STUB
  // DM_TODO("03.5");
  // END STUB
  // END SOLUTION
}
// ANCHOR_END: frechet

}  // namespace dm::ch03
