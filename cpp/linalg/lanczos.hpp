// Lanczos with full reorthogonalization: the Krylov basis is kept as the rows of one
// contiguous block, and each new vector is orthogonalized against all of it by two
// blocked passes (classical Gram-Schmidt, repeated once when the norm drops by more than
// 1/sqrt(2): "twice is enough"). The passes are threaded over the vector (common/parallel.hpp).
//
// The matrix-vector product is a callback, so the same code serves Hessians (an objective's
// hvp), the physics Hessian in density space and the L-BFGS matrices B_k and H_k.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/buffer.hpp"

namespace toposcape::linalg {

// y = A x for a symmetric operator A of order n; x and y never alias.
using MatVec = std::function<void(const double* x, double* y)>;

// An orthonormal basis of up to `capacity` vectors of length n, stored row by row.
class KrylovBasis {
public:
    KrylovBasis(int64_t n, int capacity);

    int64_t n() const { return n_; }
    int size() const { return size_; }
    int capacity() const { return capacity_; }
    const double* row(int i) const { return data_.data() + static_cast<size_t>(i) * n_; }

    // Orthogonalize w against every stored vector: w <- w - V^T h with h = V w, twice when
    // the first pass removed most of w. `h` (size()) receives the total coefficients.
    // Returns ||w|| afterwards.
    double orthogonalize(double* w, double* h) const;
    // Append w / norm (throws when full).
    void append(const double* w, double norm);
    // Replace the basis by its first `cols` combinations: row j <- sum_i Q[i, j] row i,
    // with Q (size() x cols, row-major). Keeps the basis orthonormal when Q's columns are.
    void rotate(const std::vector<double>& Q, int cols);
    void truncate(int size) { size_ = size; }

private:
    int64_t n_;
    int capacity_;
    int size_ = 0;
    DoubleBuffer data_;
};

// A Lanczos run of `steps` matrix-vector products from v0 (normalized internally).
// alpha (steps) and beta (steps - 1) are the tridiagonal T = V^T A V; the run stops early
// when the Krylov space becomes invariant (beta < breakdown * ||T||), then alpha has fewer
// entries. With `basis`, the Lanczos vectors are kept there (capacity >= steps).
struct LanczosRun {
    std::vector<double> alpha, beta;
    bool invariant = false;  // stopped at an invariant subspace
};
LanczosRun lanczos(const MatVec& matvec, int64_t n, const double* v0, int steps,
                   KrylovBasis* basis = nullptr, double breakdown = 1e-12);

// Extremal eigenpairs by thick-restart Lanczos (Wu and Simon 2000) with full
// reorthogonalization. `which`: "LA" (largest algebraic), "SA" (smallest), "BE" (half from
// each end, the extra one from the top) or "LM" (largest magnitude: what power iteration
// finds). A Ritz pair (theta, y) is converged when
// ||A y - theta y|| <= tol * max(|theta|, scale * 1e-3), scale = the largest |Ritz value|.
struct EigshResult {
    std::vector<double> values;   // k, ascending
    std::vector<double> vectors;  // k x n, row j = eigenvector of values[j]
    std::vector<double> residuals;  // ||A y - theta y|| per pair
    int64_t matvecs = 0;
    int restarts = 0;
    bool converged = false;
};
EigshResult eigsh(const MatVec& matvec, int64_t n, int k, const std::string& which, double tol,
                  int ncv, int max_restarts, const double* v0);

}  // namespace toposcape::linalg
