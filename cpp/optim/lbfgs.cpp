#include "optim/lbfgs.hpp"

#include <omp.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "common/level1.hpp"
#include "common/parallel.hpp"
#include "optim/compact.hpp"

namespace toposcape::optim {

namespace {

bool all_finite(const double* v, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        if (!std::isfinite(v[i])) return false;
    return true;
}

// Entry i of a curvature pair, either stored vectors (s, y) or formed on the fly as
// (step * d, g_new - g_old).
struct StoredPair {
    const double* s;
    const double* y;
    double s_at(int64_t i) const { return s[i]; }
    double y_at(int64_t i) const { return y[i]; }
    bool finite(int64_t n) const { return all_finite(s, n) && all_finite(y, n); }
    static const char* what() {
        return "LbfgsMemory.push: s and y must be finite (NaN or inf entry)";
    }
};
struct StepPair {
    const double* d;
    double step;
    const double* g_new;
    const double* g_old;
    double s_at(int64_t i) const { return step * d[i]; }
    double y_at(int64_t i) const { return g_new[i] - g_old[i]; }
    bool finite(int64_t n) const {
        return std::isfinite(step) && all_finite(d, n) && all_finite(g_new, n) &&
               all_finite(g_old, n);
    }
    static const char* what() {
        return "LbfgsMemory.push_step: step, d, g_new and g_old must be finite (NaN or inf entry)";
    }
};

// s.y, y.y and s.s of a pair (or of a share of it).
struct PairSums {
    double sy = 0.0, yy = 0.0, ss = 0.0;
};

// Write entries [lo, hi) of a pair into its storage rows ps, py (rounded to T) and return the
// share's s.y, y.y and s.s of the stored values, each in the order of dot().
template <class T, class Pair>
PairSums write_pair(const Pair& pair, T* ps, T* py, int64_t lo, int64_t hi) {
    double a[4] = {0, 0, 0, 0}, b[4] = {0, 0, 0, 0}, c[4] = {0, 0, 0, 0};
    int64_t i = lo;
    for (; i + 4 <= hi; i += 4) {
        for (int l = 0; l < 4; ++l) {
            const T s = static_cast<T>(pair.s_at(i + l));
            const T y = static_cast<T>(pair.y_at(i + l));
            ps[i + l] = s;
            py[i + l] = y;
            a[l] += static_cast<double>(s) * static_cast<double>(y);
            b[l] += static_cast<double>(y) * static_cast<double>(y);
            c[l] += static_cast<double>(s) * static_cast<double>(s);
        }
    }
    for (; i < hi; ++i) {
        const T s = static_cast<T>(pair.s_at(i));
        const T y = static_cast<T>(pair.y_at(i));
        ps[i] = s;
        py[i] = y;
        a[0] += static_cast<double>(s) * static_cast<double>(y);
        b[0] += static_cast<double>(y) * static_cast<double>(y);
        c[0] += static_cast<double>(s) * static_cast<double>(s);
    }
    return {(a[0] + a[1]) + (a[2] + a[3]), (b[0] + b[1]) + (b[2] + b[3]),
            (c[0] + c[1]) + (c[2] + c[3])};
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

LbfgsMemory::LbfgsMemory(int64_t n, int m, bool single)
    : n_(n), m_(m), slots_(0), single_(single) {
    if (n < 1) throw std::invalid_argument("L-BFGS memory: n must be >= 1");
    if (m < 1) throw std::invalid_argument("L-BFGS memory: m must be >= 1");
    if (m == std::numeric_limits<int>::max())
        throw std::length_error("L-BFGS memory: m + 1 rows overflow int");
    slots_ = m + 1;
    // Slot offsets are computed in int64_t and the buffer size in size_t: refuse sizes that
    // would wrap either (the caller then reports the size asked for).
    if (static_cast<uint64_t>(n) > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) /
                                       (static_cast<uint64_t>(slots_) * sizeof(double)))
        throw std::length_error("L-BFGS memory: n * (m + 1) entries overflow the address space");
    // Float storage packs two entries per double of the buffer.
    const size_t entries = static_cast<size_t>(n) * slots_;
    const size_t doubles = single ? (entries + 1) / 2 : entries;
    S_ = DoubleBuffer(doubles);
    Y_ = DoubleBuffer(doubles);
    sy_.assign(slots_, 0.0);
    yy_.assign(slots_, 0.0);
    slot_sy_.assign(static_cast<size_t>(slots_) * slots_, 0.0);
    slot_yy_.assign(static_cast<size_t>(slots_) * slots_, 0.0);
    slot_pending_.assign(slots_, 0);
}

int LbfgsMemory::size() const {
    std::shared_lock lock(mutex_);
    return count_;
}

int64_t LbfgsMemory::n_pushed() const {
    std::shared_lock lock(mutex_);
    return pushed_;
}

int64_t LbfgsMemory::n_skipped() const {
    std::shared_lock lock(mutex_);
    return skipped_;
}

bool LbfgsMemory::push(const double* s, const double* y, double skip_scale, double eps,
                       double sy) {
    std::unique_lock lock(mutex_);
    const StoredPair pair{s, y};
    return single_ ? push_impl<float>(pair, skip_scale, eps, sy)
                   : push_impl<double>(pair, skip_scale, eps, sy);
}

bool LbfgsMemory::push_step(const double* d, double step, const double* g_new,
                            const double* g_old, double skip_scale, double eps) {
    std::unique_lock lock(mutex_);
    const StepPair pair{d, step, g_new, g_old};
    const double nan = std::numeric_limits<double>::quiet_NaN();
    return single_ ? push_impl<float>(pair, skip_scale, eps, nan)
                   : push_impl<double>(pair, skip_scale, eps, nan);
}

template <class T, class Pair>
bool LbfgsMemory::push_impl(const Pair& pair, double skip_scale, double eps, double sy) {
    // The free row (there is always one): the pair is written while s.y and y.y of the pair as
    // stored (rounded, with float storage) are accumulated, in the order of dot(). A rejected
    // pair leaves the held pairs untouched.
    const int64_t dst = (head_ + count_) % slots_;
    T* ps = s_slot<T>(dst);
    T* py = y_slot<T>(dst);
    // s.y, y.y, s.s over the vector, each the sum of the threads' partial sums in thread
    // order (deterministic for a given thread count, as the two-loop's dot products).
    const int threads = threads_for(n_);
    PairSums sums;
    if (threads == 1) {
        sums = write_pair<T>(pair, ps, py, 0, n_);
    } else {
        std::vector<PairSums> partial(threads);
#pragma omp parallel num_threads(threads)
        {
            int64_t lo, hi;
            chunk_of(n_, omp_get_thread_num(), omp_get_num_threads(), lo, hi);
            partial[omp_get_thread_num()] = write_pair<T>(pair, ps, py, lo, hi);
        }
        for (const PairSums& p : partial) {
            sums.sy += p.sy;
            sums.yy += p.yy;
            sums.ss += p.ss;
        }
    }
    const double sy_stored = sums.sy;
    const double yy = sums.yy;
    // A NaN or inf entry in s or y makes s.y or y.y non-finite (an inf y_i gives y.y = inf; an
    // inf s_i gives s_i y_i = inf or NaN), so the entries need a second look only then: such a
    // pair is refused; a finite pair whose products overflow is skipped below.
    if ((!std::isfinite(sy_stored) || !std::isfinite(yy)) && !pair.finite(n_))
        throw std::invalid_argument(pair.what());
    // A precomputed s.y is used as given with double storage. With float storage it must be
    // s.y of the rounded pair, or B_k and H_k would stop being inverses of each other.
    if (std::isnan(sy) || !std::is_same_v<T, double>) sy = sy_stored;
    // Skipped like a failed curvature test: s.y <= eps * skip_scale (also NaN), and pairs the
    // products cannot use, which would make every later two-loop or compact product NaN or
    // inf: s.y, y.y or s.s overflowing (or an infinite precomputed s.y), y.y underflowing to
    // 0, gamma = s.y / y.y or its inverse overflowing (H_0 = gamma I, B_0 = I / gamma), or
    // s.s / gamma overflowing (the compact form of B_k holds S^T S / gamma).
    const double ss = sums.ss;
    const double gamma = sy / yy;
    if (!(sy > eps * skip_scale) || !std::isfinite(sy) || !std::isfinite(sy_stored) ||
        !(yy > 0.0) || !std::isfinite(yy) || !std::isfinite(ss) || !std::isfinite(gamma) ||
        !std::isfinite(1.0 / gamma) || !std::isfinite(ss / gamma)) {
        ++skipped_;
        return false;
    }
    if (count_ < m_) {
        ++count_;
    } else {
        head_ = (head_ + 1) % slots_;  // drop the oldest
    }
    sy_[dst] = sy;
    yy_[dst] = yy;
    slot_pending_[dst] = 1;
    ++pushed_;
    gram_valid_ = false;
    return true;
}

int LbfgsMemory::copy_pairs(std::vector<double>& S, std::vector<double>& Y) const {
    std::shared_lock lock(mutex_);
    const int k = count_;
    S.resize(static_cast<size_t>(k) * n_);
    Y.resize(static_cast<size_t>(k) * n_);
    for (int i = 0; i < k; ++i) {
        double* s_out = S.data() + static_cast<size_t>(i) * n_;
        double* y_out = Y.data() + static_cast<size_t>(i) * n_;
        if (single_) {
            std::copy(s<float>(i), s<float>(i) + n_, s_out);
            std::copy(y<float>(i), y<float>(i) + n_, y_out);
        } else {
            std::copy(s<double>(i), s<double>(i) + n_, s_out);
            std::copy(y<double>(i), y<double>(i) + n_, y_out);
        }
    }
    return k;
}

void LbfgsMemory::clear() {
    std::unique_lock lock(mutex_);
    count_ = 0;
    head_ = 0;
    gram_valid_ = false;
    std::fill(slot_pending_.begin(), slot_pending_.end(), 0);
}

double LbfgsMemory::gamma() const {
    std::shared_lock lock(mutex_);
    return gamma_unlocked();
}

double LbfgsMemory::gamma_unlocked() const {
    if (count_ == 0) return 1.0;
    return sy(count_ - 1) / yy_[slot(count_ - 1)];
}

void LbfgsMemory::two_loop(const double* g, double* out, bool negate) const {
    std::shared_lock lock(mutex_);
    if (single_) {
        two_loop_impl<float>(g, out, negate);
    } else {
        two_loop_impl<double>(g, out, negate);
    }
}

template <class T>
void LbfgsMemory::two_loop_impl(const double* g, double* out, bool negate) const {
    const int k = count_;
    const double gam = gamma_unlocked();
    // One share [lo, hi) of the recursion; `reduce` turns a share's partial dot product into
    // the whole vector's. Every update of q is fused with the dot product that follows it
    // (level1.hpp: bitwise the textbook order), so the recursion makes 2k passes over q
    // instead of 4k, and streams each pair twice, as before.
    auto share = [&](int64_t lo, int64_t hi, auto&& reduce) {
        const int64_t len = hi - lo;
        double* q = out + lo;
        if (k == 0) {
            for (int64_t j = 0; j < len; ++j) q[j] = (negate ? -g[lo + j] : g[lo + j]) * gam;
            return;
        }
        std::vector<double> alpha(k);
        alpha[k - 1] = reduce(copy_dot(g + lo, negate, q, s<T>(k - 1) + lo, len)) / sy(k - 1);
        for (int i = k - 1; i >= 1; --i)
            alpha[i - 1] =
                reduce(axpy_dot(-alpha[i], y<T>(i) + lo, q, s<T>(i - 1) + lo, len)) / sy(i - 1);
        // the last update of the first loop, the scaling by H_0 = gam I and the second loop's
        // first dot product
        double beta =
            reduce(axpy_scale_dot(-alpha[0], y<T>(0) + lo, gam, q, y<T>(0) + lo, len)) / sy(0);
        for (int i = 0; i + 1 < k; ++i)
            beta = reduce(axpy_dot(alpha[i] - beta, s<T>(i) + lo, q, y<T>(i + 1) + lo, len)) /
                   sy(i + 1);
        axpy(alpha[k - 1] - beta, s<T>(k - 1) + lo, q, len);
    };
    const int threads = threads_for(n_);
    if (threads == 1) {
        share(0, n_, [](double local) { return local; });
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
        int step = 0;
        share(lo, hi, [&](double local) {
            double* buf = partial.data() + (step++ % 2) * 8 * nt;
            buf[8 * t] = local;
#pragma omp barrier
            double sum = 0.0;
            for (int u = 0; u < nt; ++u) sum += buf[8 * u];
            return sum;
        });
    }
}

void LbfgsMemory::direction(const double* g, double* out, double* slope) const {
    std::shared_lock lock(mutex_);
    if (single_) {
        std::lock_guard<std::mutex> cache_lock(compact_mutex_);
        const double dg = compact_direction<float>(g, out);
        if (slope) *slope = dg;
    } else {
        two_loop_impl<double>(g, out, true);
        if (slope) *slope = dot_threaded(g, out, n_);
    }
}

// The k x k algebra of the compact direction: with a = S^T g, b = Y^T g of the held pairs
// (chronological) and the Gram cache complete, the coefficients of d = -gamma g + S cs +
// Y cy = -H g: t = R^{-1} a, q = R^{-T} ((D + gamma Y^T Y) t - gamma b), cs = -q,
// cy = gamma t, R = upper(S^T Y), D = diag(s_i.y_i) (as apply_h). R's and D's diagonal and
// Y^T Y's are the push's s.y and y.y, as in the two-loop.
void LbfgsMemory::compact_coefficients(const double* a, const double* b, double* cs,
                                       double* cy) const {
    const int k = count_;
    const double gam = gamma_unlocked();
    auto R = [&](int i, int j) { return i == j ? sy(i) : slot_sy_[slot(i) * slots_ + slot(j)]; };
    auto YY = [&](int i, int j) {
        return i == j ? yy_[slot(i)] : slot_yy_[slot(i) * slots_ + slot(j)];
    };
    std::vector<double> t(k), u(k), q(k);
    for (int i = k - 1; i >= 0; --i) {  // t = R^{-1} a
        double acc = a[i];
        for (int j = i + 1; j < k; ++j) acc -= R(i, j) * t[j];
        t[i] = acc / sy(i);
    }
    for (int i = 0; i < k; ++i) {  // u = (D + gamma Y^T Y) t - gamma b
        double acc = 0.0;
        for (int j = 0; j < k; ++j) acc += YY(i, j) * t[j];
        u[i] = sy(i) * t[i] + gam * acc - gam * b[i];
    }
    for (int i = 0; i < k; ++i) {  // q = R^{-T} u
        double acc = u[i];
        for (int j = 0; j < i; ++j) acc -= R(j, i) * q[j];
        q[i] = acc / sy(i);
    }
    for (int i = 0; i < k; ++i) {
        cs[i] = -q[i];
        cy[i] = gam * t[i];
    }
}

void LbfgsMemory::store_gram_column(int64_t col, int k_rows, const double* r,
                                    const double* w) const {
    for (int i = 0; i < k_rows; ++i) {
        const int64_t row = slot(i);
        slot_sy_[row * slots_ + col] = r[i];
        slot_yy_[row * slots_ + col] = slot_yy_[col * slots_ + row] = w[i];
    }
    slot_pending_[col] = 0;
}

namespace {

// Partial sums of the threads, added in thread order (deterministic for a given count).
void add_in_thread_order(const std::vector<double>& partial, int threads, int count,
                         double* sums) {
    for (int e = 0; e < count; ++e) sums[e] = 0.0;
    for (int t = 0; t < threads; ++t)
        for (int e = 0; e < count; ++e) sums[e] += partial[static_cast<size_t>(t) * count + e];
}

}  // namespace

template <class T>
double LbfgsMemory::compact_direction(const double* g, double* out) const {
    const int k = count_;
    const int threads = threads_for(n_);
    auto share_of = [&](int t, int nt, int64_t& lo, int64_t& hi) {
        if (nt == 1) {
            lo = 0;
            hi = n_;
        } else {
            chunk_of(n_, t, nt, lo, hi);
        }
    };
    std::vector<const T*> S(k), Y(k), Yc;
    std::vector<int> pending;  // chronological indices whose Gram entries are missing
    for (int i = 0; i < k; ++i) {
        S[i] = s<T>(i);
        Y[i] = y<T>(i);
        if (slot_pending_[slot(i)]) {
            pending.push_back(i);
            Yc.push_back(y<T>(i));
        }
    }
    // Pass 1: a = S^T g, b = Y^T g and the pending Gram columns.
    const int p = static_cast<int>(pending.size());
    const int nsum = 2 * k + 2 * k * p;
    std::vector<double> partial(static_cast<size_t>(threads) * nsum), sums(nsum);
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        const int me = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t lo, hi;
        share_of(me, nt, lo, hi);
        compact_products<T>(S.data(), Y.data(), k, g, Yc.data(), p, lo, hi,
                            partial.data() + static_cast<size_t>(me) * nsum);
    }
    add_in_thread_order(partial, threads, nsum, sums.data());
    for (int c = 0; c < p; ++c)
        store_gram_column(slot(pending[c]), k, sums.data() + 2 * k + 2 * k * c,
                          sums.data() + 2 * k + 2 * k * c + k);
    // The k x k algebra, then pass 2: d and its slope g.d.
    std::vector<double> cs(k), cy(k);
    compact_coefficients(sums.data(), sums.data() + k, cs.data(), cy.data());
    const double gam = gamma_unlocked();
    std::vector<double> slopes(threads, 0.0);
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        const int me = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t lo, hi;
        share_of(me, nt, lo, hi);
        slopes[me] = compact_combine<T>(S.data(), Y.data(), k, g, -gam, cs.data(), cy.data(),
                                        lo, hi, out);
    }
    double slope = 0.0;
    for (double v : slopes) slope += v;
    return slope;
}

void LbfgsMemory::gram(std::vector<double>& SS, std::vector<double>& SY,
                       std::vector<double>& YY) const {
    // Cached between pushes: repeated products (a Lanczos run on B_k) cost two passes over
    // the memory each instead of k^2 dot products.
    std::lock_guard<std::mutex> lock(gram_mutex_);
    if (!gram_valid_) {
        if (single_) {
            gram_impl<float>();
        } else {
            gram_impl<double>();
        }
        gram_valid_ = true;
    }
    SS = SS_;
    SY = SY_;
    YY = YY_;
}

template <class T>
void LbfgsMemory::gram_impl() const {
    const int k = count_;
    {
        SS_.assign(k * k, 0.0);
        SY_.assign(k * k, 0.0);
        YY_.assign(k * k, 0.0);
        for (int i = 0; i < k; ++i) {
            for (int j = 0; j < k; ++j) {
                SY_[i * k + j] = (i == j) ? sy(i) : dot_mixed(s<T>(i), y<T>(j), n_);
                if (j >= i) {
                    SS_[i * k + j] = SS_[j * k + i] = dot_mixed(s<T>(i), s<T>(j), n_);
                    YY_[i * k + j] = YY_[j * k + i] = dot_mixed(y<T>(i), y<T>(j), n_);
                }
            }
        }
    }
}

// B = delta I - [Y  delta S] M^{-1} [Y^T; delta S^T],  M = [[-D, L^T], [L, delta S^T S]],
// delta = 1 / gamma, D = diag(s_i.y_i), L_ij = s_i.y_j (i > j).
void LbfgsMemory::apply_b(const double* v, double* out) const {
    std::shared_lock lock(mutex_);
    if (single_) {
        apply_b_impl<float>(v, out);
    } else {
        apply_b_impl<double>(v, out);
    }
}

template <class T>
void LbfgsMemory::apply_b_impl(const double* v, double* out) const {
    const double delta = 1.0 / gamma_unlocked();
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
        rhs[i] = dot_mixed(y<T>(i), v, n_);
        rhs[k + i] = delta * dot_mixed(s<T>(i), v, n_);
    }
    dense_solve(M, rhs, k2);
    for (int i = 0; i < k; ++i) {
        axpy(-rhs[i], y<T>(i), out, n_);
        axpy(-delta * rhs[k + i], s<T>(i), out, n_);
    }
}

// H = gamma I + [S  gamma Y] N [S^T; gamma Y^T],
// N = [[R^{-T} (D + gamma Y^T Y) R^{-1}, -R^{-T}], [-R^{-1}, 0]], R_ij = s_i.y_j (i <= j).
void LbfgsMemory::apply_h(const double* v, double* out) const {
    std::shared_lock lock(mutex_);
    if (single_) {
        apply_h_impl<float>(v, out);
    } else {
        apply_h_impl<double>(v, out);
    }
}

template <class T>
void LbfgsMemory::apply_h_impl(const double* v, double* out) const {
    const double gam = gamma_unlocked();
    for (int64_t i = 0; i < n_; ++i) out[i] = gam * v[i];
    const int k = count_;
    if (k == 0) return;
    std::vector<double> SS, SY, YY;
    gram(SS, SY, YY);
    std::vector<double> a(k), b(k);  // a = S^T v, b = gamma Y^T v
    for (int i = 0; i < k; ++i) {
        a[i] = dot_mixed(s<T>(i), v, n_);
        b[i] = gam * dot_mixed(y<T>(i), v, n_);
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
        axpy(top[i], s<T>(i), out, n_);
        axpy(-gam * p[i], y<T>(i), out, n_);
    }
}

}  // namespace toposcape::optim
