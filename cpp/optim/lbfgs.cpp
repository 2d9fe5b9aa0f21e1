#include "optim/lbfgs.hpp"

#include <omp.h>

#include <cmath>
#include <stdexcept>

#include "common/parallel.hpp"

namespace toposcape::optim {

double dot(const double* a, const double* b, int64_t n) {
    // Four accumulators: vectorizes and keeps the summation error of long vectors small.
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; ++i) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

namespace {

void axpy(double a, const double* x, double* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

// Solve the dense k x k system A x = b in place (Gaussian elimination, partial pivoting).
void dense_solve(std::vector<double> A, std::vector<double>& b, int k) {
    for (int c = 0; c < k; ++c) {
        int p = c;
        for (int r = c + 1; r < k; ++r)
            if (std::fabs(A[r * k + c]) > std::fabs(A[p * k + c])) p = r;
        if (A[p * k + c] == 0.0) throw std::runtime_error("singular compact-form middle matrix");
        if (p != c) {
            for (int j = 0; j < k; ++j) std::swap(A[p * k + j], A[c * k + j]);
            std::swap(b[p], b[c]);
        }
        for (int r = c + 1; r < k; ++r) {
            const double f = A[r * k + c] / A[c * k + c];
            if (f == 0.0) continue;
            for (int j = c; j < k; ++j) A[r * k + j] -= f * A[c * k + j];
            b[r] -= f * b[c];
        }
    }
    for (int r = k - 1; r >= 0; --r) {
        double acc = b[r];
        for (int j = r + 1; j < k; ++j) acc -= A[r * k + j] * b[j];
        b[r] = acc / A[r * k + r];
    }
}

}  // namespace

LbfgsMemory::LbfgsMemory(int64_t n, int m) : n_(n), m_(m) {
    if (n < 1) throw std::invalid_argument("L-BFGS memory: n must be >= 1");
    if (m < 1) throw std::invalid_argument("L-BFGS memory: m must be >= 1");
    S_ = DoubleBuffer(static_cast<size_t>(n) * m);
    Y_ = DoubleBuffer(static_cast<size_t>(n) * m);
    sy_.assign(m, 0.0);
    yy_.assign(m, 0.0);
}

bool LbfgsMemory::push(const double* s, const double* y, double skip_scale, double eps,
                       double sy) {
    if (std::isnan(sy)) sy = dot(s, y, n_);
    if (!(sy > eps * skip_scale)) {  // also rejects NaN
        ++skipped_;
        return false;
    }
    int64_t dst;
    if (count_ < m_) {
        dst = (head_ + count_) % m_;
        ++count_;
    } else {
        dst = head_;  // overwrite the oldest
        head_ = (head_ + 1) % m_;
    }
    std::copy(s, s + n_, S_.data() + dst * n_);
    std::copy(y, y + n_, Y_.data() + dst * n_);
    sy_[dst] = sy;
    yy_[dst] = dot(y, y, n_);
    ++pushed_;
    std::lock_guard<std::mutex> lock(gram_mutex_);
    gram_valid_ = false;
    return true;
}

void LbfgsMemory::clear() {
    count_ = 0;
    head_ = 0;
    std::lock_guard<std::mutex> lock(gram_mutex_);
    gram_valid_ = false;
}

double LbfgsMemory::gamma() const {
    if (count_ == 0) return 1.0;
    return sy(count_ - 1) / yy_[slot(count_ - 1)];
}

void LbfgsMemory::two_loop(const double* g, double* out) const {
    const int k = count_;
    const double gam = gamma();
    const int threads = threads_for(n_);
    if (threads == 1) {
        std::copy(g, g + n_, out);
        std::vector<double> alpha(k);
        for (int i = k - 1; i >= 0; --i) {
            alpha[i] = dot(s(i), out, n_) / sy(i);
            axpy(-alpha[i], y(i), out, n_);
        }
        for (int64_t j = 0; j < n_; ++j) out[j] *= gam;
        for (int i = 0; i < k; ++i) {
            const double beta = dot(y(i), out, n_) / sy(i);
            axpy(alpha[i] - beta, s(i), out, n_);
        }
        return;
    }
    // Each thread owns a contiguous share of the vector; a dot product is the sum of the
    // threads' partial sums, added in thread order (deterministic for a given thread count).
    // Partial sums are double-buffered by step parity, so one barrier per step suffices: a
    // buffer is rewritten two steps later, after every thread has passed another barrier.
    std::vector<double> partial(2 * 8 * threads, 0.0);  // 8 apart: one cache line each
#pragma omp parallel num_threads(threads)
    {
        const int t = omp_get_thread_num();
        const int nt = omp_get_num_threads();
        int64_t lo, hi;
        chunk_of(n_, t, nt, lo, hi);
        const int64_t len = hi - lo;
        double* q = out + lo;
        std::copy(g + lo, g + hi, q);
        std::vector<double> alpha(k);
        int step = 0;
        auto reduce = [&](double local) {
            double* buf = partial.data() + (step++ % 2) * 8 * nt;
            buf[8 * t] = local;
#pragma omp barrier
            double sum = 0.0;
            for (int u = 0; u < nt; ++u) sum += buf[8 * u];
            return sum;
        };
        for (int i = k - 1; i >= 0; --i) {
            alpha[i] = reduce(dot(s(i) + lo, q, len)) / sy(i);
            axpy(-alpha[i], y(i) + lo, q, len);
        }
        for (int64_t j = 0; j < len; ++j) q[j] *= gam;
        for (int i = 0; i < k; ++i) {
            const double beta = reduce(dot(y(i) + lo, q, len)) / sy(i);
            axpy(alpha[i] - beta, s(i) + lo, q, len);
        }
    }
}

void LbfgsMemory::gram(std::vector<double>& SS, std::vector<double>& SY,
                       std::vector<double>& YY) const {
    // Cached between pushes: repeated products (a Lanczos run on B_k) cost two passes over
    // the memory each instead of k^2 dot products.
    std::lock_guard<std::mutex> lock(gram_mutex_);
    const int k = count_;
    if (!gram_valid_) {
        SS_.assign(k * k, 0.0);
        SY_.assign(k * k, 0.0);
        YY_.assign(k * k, 0.0);
        for (int i = 0; i < k; ++i) {
            for (int j = 0; j < k; ++j) {
                SY_[i * k + j] = (i == j) ? sy(i) : dot(s(i), y(j), n_);
                if (j >= i) {
                    SS_[i * k + j] = SS_[j * k + i] = dot(s(i), s(j), n_);
                    YY_[i * k + j] = YY_[j * k + i] = dot(y(i), y(j), n_);
                }
            }
        }
        gram_valid_ = true;
    }
    SS = SS_;
    SY = SY_;
    YY = YY_;
}

// B = delta I - [Y  delta S] M^{-1} [Y^T; delta S^T],  M = [[-D, L^T], [L, delta S^T S]],
// delta = 1 / gamma, D = diag(s_i.y_i), L_ij = s_i.y_j (i > j).
void LbfgsMemory::apply_b(const double* v, double* out) const {
    const double delta = 1.0 / gamma();
    for (int64_t i = 0; i < n_; ++i) out[i] = delta * v[i];
    const int k = count_;
    if (k == 0) return;
    std::vector<double> SS, SY, YY;
    gram(SS, SY, YY);
    const int k2 = 2 * k;
    std::vector<double> M(k2 * k2, 0.0), rhs(k2);
    for (int i = 0; i < k; ++i) {
        M[i * k2 + i] = -SY[i * k + i];
        for (int j = 0; j < k; ++j) {
            if (i > j) {
                M[(k + i) * k2 + j] = SY[i * k + j];  // L
                M[j * k2 + (k + i)] = SY[i * k + j];  // L^T
            }
            M[(k + i) * k2 + (k + j)] = delta * SS[i * k + j];
        }
        rhs[i] = dot(y(i), v, n_);
        rhs[k + i] = delta * dot(s(i), v, n_);
    }
    dense_solve(M, rhs, k2);
    for (int i = 0; i < k; ++i) {
        axpy(-rhs[i], y(i), out, n_);
        axpy(-delta * rhs[k + i], s(i), out, n_);
    }
}

// H = gamma I + [S  gamma Y] N [S^T; gamma Y^T],
// N = [[R^{-T} (D + gamma Y^T Y) R^{-1}, -R^{-T}], [-R^{-1}, 0]], R_ij = s_i.y_j (i <= j).
void LbfgsMemory::apply_h(const double* v, double* out) const {
    const double gam = gamma();
    for (int64_t i = 0; i < n_; ++i) out[i] = gam * v[i];
    const int k = count_;
    if (k == 0) return;
    std::vector<double> SS, SY, YY;
    gram(SS, SY, YY);
    std::vector<double> a(k), b(k);  // a = S^T v, b = gamma Y^T v
    for (int i = 0; i < k; ++i) {
        a[i] = dot(s(i), v, n_);
        b[i] = gam * dot(y(i), v, n_);
    }
    // p = R^{-1} a  (R upper triangular): back substitution.
    std::vector<double> p(k);
    for (int i = k - 1; i >= 0; --i) {
        double acc = a[i];
        for (int j = i + 1; j < k; ++j) acc -= SY[i * k + j] * p[j];
        p[i] = acc / SY[i * k + i];
    }
    // top = R^{-T} ((D + gamma Y^T Y) p - b)   bottom = -p
    std::vector<double> t(k);
    for (int i = 0; i < k; ++i) {
        double acc = SY[i * k + i] * p[i] - b[i];
        for (int j = 0; j < k; ++j) acc += gam * YY[i * k + j] * p[j];
        t[i] = acc;
    }
    // R^T is lower triangular: forward substitution.
    std::vector<double> top(k);
    for (int i = 0; i < k; ++i) {
        double acc = t[i];
        for (int j = 0; j < i; ++j) acc -= SY[j * k + i] * top[j];
        top[i] = acc / SY[i * k + i];
    }
    for (int i = 0; i < k; ++i) {
        axpy(top[i], s(i), out, n_);
        axpy(-gam * p[i], y(i), out, n_);
    }
}

}  // namespace toposcape::optim
