#include "linalg/lanczos.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>

#include "common/level1.hpp"
#include "common/parallel.hpp"
#include "linalg/eigen.hpp"

namespace toposcape::linalg {
namespace {

// Columns per block of the blocked passes: a block of w (256 KiB) stays in L2 while the basis
// rows stream past it from memory, four rows at a time (four concurrent streams keep more
// memory requests in flight than one, as BLAS's gemv kernels do).
constexpr int64_t kBlock = 32768;

// Reorthogonalize a second time when a pass kept less than this fraction of the norm.
constexpr double kTwiceIsEnough = 0.7071067811865476;  // 1 / sqrt(2)

// h[0..k) += V[0..k) . w over one column block (V rows of stride n, offset c0).
void project_block(const double* V, int k, int64_t n, const double* w, int64_t len,
                   double* h) {
    int i = 0;
    for (; i + 4 <= k; i += 4) {
        const double* a0 = V + static_cast<size_t>(i) * n;
        const double* a1 = a0 + n;
        const double* a2 = a1 + n;
        const double* a3 = a2 + n;
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0, t0 = 0, t1 = 0, t2 = 0, t3 = 0;
        int64_t j = 0;
        for (; j + 2 <= len; j += 2) {
            const double x = w[j], y = w[j + 1];
            s0 += a0[j] * x;
            t0 += a0[j + 1] * y;
            s1 += a1[j] * x;
            t1 += a1[j + 1] * y;
            s2 += a2[j] * x;
            t2 += a2[j + 1] * y;
            s3 += a3[j] * x;
            t3 += a3[j + 1] * y;
        }
        for (; j < len; ++j) {
            s0 += a0[j] * w[j];
            s1 += a1[j] * w[j];
            s2 += a2[j] * w[j];
            s3 += a3[j] * w[j];
        }
        h[i] += s0 + t0;
        h[i + 1] += s1 + t1;
        h[i + 2] += s2 + t2;
        h[i + 3] += s3 + t3;
    }
    for (; i < k; ++i) h[i] += dot(V + static_cast<size_t>(i) * n, w, len);
}

// w -= sum_i h[i] V[i] over one column block.
void subtract_block(const double* V, int k, int64_t n, const double* h, double* w, int64_t len) {
    int i = 0;
    for (; i + 4 <= k; i += 4) {
        const double* a0 = V + static_cast<size_t>(i) * n;
        const double* a1 = a0 + n;
        const double* a2 = a1 + n;
        const double* a3 = a2 + n;
        const double h0 = h[i], h1 = h[i + 1], h2 = h[i + 2], h3 = h[i + 3];
        for (int64_t j = 0; j < len; ++j)
            w[j] -= (h0 * a0[j] + h1 * a1[j]) + (h2 * a2[j] + h3 * a3[j]);
    }
    for (; i < k; ++i) axpy(-h[i], V + static_cast<size_t>(i) * n, w, len);
}

// h = V w over the first k rows of V (k x n, row-major); threads split the columns and their
// partial sums are added in thread order.
void project(const double* V, int k, int64_t n, const double* w, double* h) {
    std::fill(h, h + k, 0.0);
    if (k == 0) return;
    const int threads = threads_for(static_cast<int64_t>(k) * n);
    const int stride = k + 8;  // keep threads' partial sums on different cache lines
    std::vector<double> partial(static_cast<size_t>(threads) * stride, 0.0);
#pragma omp parallel num_threads(threads)
    {
        const int t = omp_get_thread_num();
        int64_t lo, hi;
        chunk_of(n, t, omp_get_num_threads(), lo, hi);
        double* hp = partial.data() + static_cast<size_t>(t) * stride;
        for (int64_t c0 = lo; c0 < hi; c0 += kBlock)
            project_block(V + c0, k, n, w + c0, std::min(kBlock, hi - c0), hp);
    }
    for (int t = 0; t < threads; ++t)  // threads that did not run left zeros
        for (int i = 0; i < k; ++i) h[i] += partial[static_cast<size_t>(t) * stride + i];
}

// w -= V^T h over the first k rows of V.
void subtract(const double* V, int k, int64_t n, const double* h, double* w) {
    if (k == 0) return;
    const int threads = threads_for(static_cast<int64_t>(k) * n);
#pragma omp parallel num_threads(threads)
    {
        int64_t lo, hi;
        chunk_of(n, omp_get_thread_num(), omp_get_num_threads(), lo, hi);
        for (int64_t c0 = lo; c0 < hi; c0 += kBlock)
            subtract_block(V + c0, k, n, h, w + c0, std::min(kBlock, hi - c0));
    }
}

// out (cols x n) = Q^T V, Q (k x cols) row-major; out may be V itself (block by block).
void combine(const double* V, int k, int64_t n, const std::vector<double>& Q, int cols,
             double* out) {
    constexpr int64_t block = 2048;  // cols x block doubles of scratch per thread
    const int threads = threads_for(static_cast<int64_t>(k) * n);
    // Scratch allocated outside the parallel region: an exception inside it would terminate.
    std::vector<std::vector<double>> scratch(threads,
                                             std::vector<double>(static_cast<size_t>(cols) * block));
#pragma omp parallel num_threads(threads)
    {
        const int t = omp_get_thread_num();
        int64_t lo, hi;
        chunk_of(n, t, omp_get_num_threads(), lo, hi);
        std::vector<double>& buf = scratch[t];
        for (int64_t c0 = lo; c0 < hi; c0 += block) {
            const int64_t len = std::min(block, hi - c0);
            std::fill(buf.begin(), buf.end(), 0.0);
            for (int i = 0; i < k; ++i) {
                const double* vi = V + static_cast<size_t>(i) * n + c0;
                for (int j = 0; j < cols; ++j) {
                    const double q = Q[static_cast<size_t>(i) * cols + j];
                    if (q != 0.0) axpy(q, vi, buf.data() + static_cast<size_t>(j) * block, len);
                }
            }
            for (int j = 0; j < cols; ++j)
                std::copy(buf.data() + static_cast<size_t>(j) * block,
                          buf.data() + static_cast<size_t>(j) * block + len,
                          out + static_cast<size_t>(j) * n + c0);
        }
    }
}

void check_finite(const double* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        if (!std::isfinite(y[i]))
            throw std::domain_error("the matrix-vector product returned NaN or inf");
}

}  // namespace

KrylovBasis::KrylovBasis(int64_t n, int capacity) : n_(n), capacity_(capacity) {
    if (n < 1 || capacity < 1) throw std::invalid_argument("KrylovBasis: n, capacity >= 1");
    data_ = DoubleBuffer(static_cast<size_t>(n) * capacity, /*zero=*/false);
}

double KrylovBasis::orthogonalize(double* w, double* h) const {
    const double before = norm2(w, n_);
    project(data_.data(), size_, n_, w, h);
    subtract(data_.data(), size_, n_, h, w);
    double after = norm2(w, n_);
    // Twice is enough (Kahan, Parlett): a second pass only when the first removed most of w,
    // i.e. when cancellation may have left components along the basis.
    if (size_ > 0 && after < before * kTwiceIsEnough) {
        std::vector<double> h2(size_);
        project(data_.data(), size_, n_, w, h2.data());
        subtract(data_.data(), size_, n_, h2.data(), w);
        for (int i = 0; i < size_; ++i) h[i] += h2[i];
        after = norm2(w, n_);
    }
    return after;
}

void KrylovBasis::append(const double* w, double norm) {
    if (size_ >= capacity_) throw std::length_error("KrylovBasis: full");
    double* dst = data_.data() + static_cast<size_t>(size_) * n_;
    const double inv = 1.0 / norm;
    for (int64_t i = 0; i < n_; ++i) dst[i] = w[i] * inv;
    ++size_;
}

void KrylovBasis::rotate(const std::vector<double>& Q, int cols) {
    if (cols > size_) throw std::invalid_argument("KrylovBasis::rotate: too many columns");
    combine(data_.data(), size_, n_, Q, cols, data_.data());
    size_ = cols;
}

LanczosRun lanczos(const MatVec& matvec, int64_t n, const double* v0, int steps,
                   KrylovBasis* basis, double breakdown) {
    if (steps < 1) throw std::invalid_argument("lanczos: steps must be >= 1");
    KrylovBasis local(n, basis ? 1 : steps);
    KrylovBasis& V = basis ? *basis : local;
    if (V.n() != n || V.capacity() < steps)
        throw std::invalid_argument("lanczos: basis has the wrong length or capacity");
    V.truncate(0);
    const double v0_norm = norm2(v0, n);
    if (!(v0_norm > 0.0) || !std::isfinite(v0_norm))
        throw std::invalid_argument("lanczos: the start vector must be finite and nonzero");
    V.append(v0, v0_norm);

    LanczosRun run;
    std::vector<double> w(n), h(steps);
    double scale = 0.0;  // running estimate of ||T||
    for (int j = 0; j < steps; ++j) {
        matvec(V.row(j), w.data());
        check_finite(w.data(), n);
        if (j > 0) axpy(-run.beta[j - 1], V.row(j - 1), w.data(), n);
        double alpha = dot(V.row(j), w.data(), n);
        axpy(-alpha, V.row(j), w.data(), n);
        const double beta = V.orthogonalize(w.data(), h.data());
        alpha += h[j];
        run.alpha.push_back(alpha);
        scale = std::max(scale, std::fabs(alpha) + beta + (j > 0 ? run.beta[j - 1] : 0.0));
        if (j + 1 == steps) break;
        if (beta <= breakdown * scale || V.size() == n) {
            run.invariant = true;
            break;
        }
        run.beta.push_back(beta);
        V.append(w.data(), beta);
    }
    return run;
}

EigshResult eigsh(const MatVec& matvec, int64_t n, int k, const std::string& which, double tol,
                  int ncv, int max_restarts, const double* v0) {
    if (which != "LA" && which != "SA" && which != "BE" && which != "LM")
        throw std::invalid_argument("eigsh: which must be 'LA', 'SA', 'BE' or 'LM'");
    if (k < 1 || k > n) throw std::invalid_argument("eigsh: need 1 <= k <= n");
    if (!(tol > 0.0)) throw std::invalid_argument("eigsh: tol must be > 0");
    if (max_restarts < 0) throw std::invalid_argument("eigsh: max_restarts must be >= 0");
    const int64_t ncv_max = std::min<int64_t>(n, std::max(ncv, k + 1));
    const int m = static_cast<int>(std::max<int64_t>(ncv_max, k));
    // How many of `count` wanted Ritz values (ascending theta) come from the top end.
    auto top_share = [&](const std::vector<double>& theta, int count) {
        if (which == "LA") return count;
        if (which == "SA") return 0;
        if (which == "BE") return (count + 1) / 2;
        int lo = 0, hi = static_cast<int>(theta.size()) - 1;  // LM: the largest |theta|
        for (int c = 0; c < count; ++c) {
            if (std::fabs(theta[lo]) > std::fabs(theta[hi])) ++lo; else --hi;
        }
        return count - lo;
    };

    KrylovBasis V(n, m);
    const double v0_norm = norm2(v0, n);
    if (!(v0_norm > 0.0) || !std::isfinite(v0_norm))
        throw std::invalid_argument("eigsh: the start vector must be finite and nonzero");
    V.append(v0, v0_norm);

    EigshResult result;
    std::vector<double> H(static_cast<size_t>(m) * m, 0.0);  // Krylov decomposition, A V = V H + r e^T
    std::vector<double> w(n), r(n), h(m);
    std::mt19937_64 rng(12345);
    std::normal_distribution<double> normal;
    // Whether the wanted Ritz pairs of the leading `size` x `size` block are converged when
    // the next basis vector would have norm `beta`: checked at every step, so that easy cases
    // (one well-separated eigenvalue) stop before the basis is full.
    auto wanted_of = [&](const std::vector<double>& theta, int size) {
        const int k_top = top_share(theta, std::min(k, size));
        const int k_bottom = std::min(k, size) - k_top;
        std::vector<int> wanted;
        for (int i = 0; i < k_bottom && i < size; ++i) wanted.push_back(i);
        for (int i = std::max(k_bottom, size - k_top); i < size; ++i) wanted.push_back(i);
        return wanted;
    };
    auto ritz = [&](int size, std::vector<double>& theta, std::vector<double>& Y) {
        std::vector<double> Hs(static_cast<size_t>(size) * size);
        for (int i = 0; i < size; ++i)
            for (int j = 0; j < size; ++j)
                Hs[static_cast<size_t>(i) * size + j] = H[static_cast<size_t>(i) * m + j];
        symmetric_eigh(Hs, size, theta, Y);
    };
    auto converged_at = [&](int size, double beta) {
        std::vector<double> theta, Y;
        ritz(size, theta, Y);
        double ritz_scale = 0.0;
        for (double t : theta) ritz_scale = std::max(ritz_scale, std::fabs(t));
        for (int i : wanted_of(theta, size)) {
            const double res = std::fabs(beta * Y[static_cast<size_t>(size - 1) * size + i]);
            if (res > tol * std::max(std::fabs(theta[i]), 1e-3 * ritz_scale)) return false;
        }
        return true;
    };
    // Converged Ritz values cannot show an eigenvalue the Krylov space has not captured yet
    // (an early stop once missed one: BENCHMARKS.md): stop before the basis is full only once
    // it holds k + max(k, 10) vectors.
    const int early_min = std::min(m, k + std::max(k, 10));
    int start = 0;  // first column of H still to compute (the restart vector's index)
    double scale = 0.0;     // running estimate of ||A|| from the recurrence coefficients
    bool explored = false;  // a random direction was added after the Krylov space closed
    for (int restart = 0;; ++restart) {
        double beta_last = 0.0;
        int size = m;
        bool whole_space = false;
        bool must_restart = false;  // the last vector was random: residuals say nothing yet
        for (int j = start; j < m; ++j) {
            matvec(V.row(j), w.data());
            ++result.matvecs;
            check_finite(w.data(), n);
            double alpha = 0.0, beta_prev = 0.0;
            if (j > start) {  // a plain Lanczos step: three-term recurrence, then reorthogonalize
                beta_prev = H[static_cast<size_t>(j) * m + (j - 1)];
                axpy(-beta_prev, V.row(j - 1), w.data(), n);
                alpha = dot(V.row(j), w.data(), n);
                axpy(-alpha, V.row(j), w.data(), n);
            }
            const double beta = V.orthogonalize(w.data(), h.data());
            h[j] += alpha;
            if (j > start) h[j - 1] += beta_prev;
            for (int i = 0; i <= j; ++i) H[static_cast<size_t>(i) * m + j] = h[i];
            double column = beta;
            for (int i = 0; i <= j; ++i) column += std::fabs(h[i]);
            scale = std::max(scale, column);
            if (beta <= 1e-12 * scale) {  // the Krylov space is invariant
                if (V.size() == n) {  // and it is the whole space: the decomposition is exact
                    size = j + 1;
                    whole_space = true;
                    break;
                }
                // Continue from a random direction orthogonal to it (coupling zero), so that
                // eigenvalues outside the invariant space can still be found.
                for (int64_t i = 0; i < n; ++i) w[i] = normal(rng);
                std::vector<double> hh(V.size());
                const double nw = V.orthogonalize(w.data(), hh.data());
                if (j + 1 == m) {
                    for (int64_t i = 0; i < n; ++i) r[i] = w[i] / nw;
                    // The Ritz values are exact for the space found so far but may not be
                    // the wanted ones: explore one random direction before trusting them
                    // (once per run; a closed space found again after that is accepted).
                    must_restart = !explored;
                    explored = true;
                    break;
                }
                explored = true;
                V.append(w.data(), nw);
                H[static_cast<size_t>(j + 1) * m + j] = 0.0;
                continue;
            }
            if (j + 1 == m || (j + 1 >= early_min && converged_at(j + 1, beta))) {
                size = j + 1;
                beta_last = beta;
                for (int64_t i = 0; i < n; ++i) r[i] = w[i] / beta;
                break;
            }
            H[static_cast<size_t>(j + 1) * m + j] = beta;
            V.append(w.data(), beta);
        }

        // Rayleigh-Ritz on the symmetric part of the projected matrix.
        std::vector<double> theta, Y;
        ritz(size, theta, Y);
        double ritz_scale = 0.0;
        for (double t : theta) ritz_scale = std::max(ritz_scale, std::fabs(t));
        const std::vector<int> wanted = wanted_of(theta, size);
        const int k_top = top_share(theta, std::min(k, size));
        std::vector<double> residual(size);
        for (int i = 0; i < size; ++i)
            residual[i] = std::fabs(beta_last * Y[static_cast<size_t>(size - 1) * size + i]);
        bool converged = !must_restart;
        for (int i : wanted)
            if (residual[i] > tol * std::max(std::fabs(theta[i]), 1e-3 * ritz_scale))
                converged = false;

        if (converged || whole_space || restart >= max_restarts) {
            const int kk = static_cast<int>(wanted.size());
            std::vector<double> Q(static_cast<size_t>(size) * kk);
            for (int i = 0; i < size; ++i)
                for (int c = 0; c < kk; ++c) Q[static_cast<size_t>(i) * kk + c] = Y[static_cast<size_t>(i) * size + wanted[c]];
            result.vectors.resize(static_cast<size_t>(kk) * n);
            combine(V.row(0), size, n, Q, kk, result.vectors.data());
            for (int i : wanted) {
                result.values.push_back(theta[i]);
                result.residuals.push_back(residual[i]);
            }
            result.restarts = restart;
            result.converged = converged || whole_space;
            return result;
        }

        // Thick restart: keep the Ritz vectors nearest the wanted end(s) and the residual.
        const int keep = std::min(m - 1, k + (m - k) / 2);
        const int keep_top = which == "LM" ? top_share(theta, keep)
                                           : static_cast<int>(std::lround(double(keep) * k_top / k));
        const int keep_bottom = keep - keep_top;
        std::vector<int> kept;
        for (int i = 0; i < keep_bottom; ++i) kept.push_back(i);
        for (int i = size - keep_top; i < size; ++i) kept.push_back(i);
        std::vector<double> Q(static_cast<size_t>(size) * keep);
        for (int i = 0; i < size; ++i)
            for (int c = 0; c < keep; ++c) Q[static_cast<size_t>(i) * keep + c] = Y[static_cast<size_t>(i) * size + kept[c]];
        V.rotate(Q, keep);
        std::fill(H.begin(), H.end(), 0.0);
        for (int c = 0; c < keep; ++c) {
            H[static_cast<size_t>(c) * m + c] = theta[kept[c]];
            H[static_cast<size_t>(keep) * m + c] = beta_last * Y[static_cast<size_t>(size - 1) * size + kept[c]];
        }
        V.append(r.data(), 1.0);
        start = keep;
    }
}

}  // namespace toposcape::linalg
