// Small dense symmetric eigenproblems: the tridiagonal matrices of Lanczos runs and the
// projected matrices of restarted Lanczos. Sizes are the Krylov dimension (tens to a few
// hundred), so clarity and accuracy matter more than asymptotic speed.
#pragma once
#include <cstdint>
#include <vector>

namespace toposcape::linalg {

// Eigen-decomposition of the symmetric tridiagonal matrix with diagonal `diag` (k) and
// off-diagonal `off` (k - 1), by the implicit QL method with Wilkinson shifts.
// Output: `w` (k) ascending; `Z` (k x k, row-major) with eigenvector i in column i.
// Throws std::runtime_error if an eigenvalue needs more than 60 iterations.
void tridiagonal_eigh(const std::vector<double>& diag, const std::vector<double>& off,
                      std::vector<double>& w, std::vector<double>& Z);

// Eigen-decomposition of a dense symmetric k x k matrix `A` (row-major; only its symmetric
// part (A + A^T) / 2 is used) by cyclic Jacobi rotations, which are accurate to round-off
// relative to ||A||. Output as for tridiagonal_eigh.
void symmetric_eigh(const std::vector<double>& A, int k, std::vector<double>& w,
                    std::vector<double>& Z);

// Gauss quadrature of the spectral measure of a Lanczos run started from a unit vector:
// nodes = eigenvalues of T, weights = squared first components of its eigenvectors (they
// sum to 1).
void gauss_quadrature(const std::vector<double>& diag, const std::vector<double>& off,
                      std::vector<double>& nodes, std::vector<double>& weights);

}  // namespace toposcape::linalg
