// Exercise 03.5: the Fréchet distance of two Gaussians.
#include "03_ddpm/frechet.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>

#include "dm/todo.hpp"

namespace dm::ch03 {

// ANCHOR: frechet
Eigen::MatrixXd sqrtm_psd(const Eigen::MatrixXd& s) {
  // Eigen::SelfAdjointEigenSolver gives eigenvalues() and eigenvectors()
  DM_TODO("03.5");
}

double frechet_distance(const Eigen::VectorXd& mu1, const Eigen::MatrixXd& s1, const Eigen::VectorXd& mu2,
                        const Eigen::MatrixXd& s2) {
  DM_TODO("03.5");
}
// ANCHOR_END: frechet

}  // namespace dm::ch03
