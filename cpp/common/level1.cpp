#include "common/level1.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/parallel.hpp"

namespace toposcape {

double dot(const double* a, const double* b, int64_t n) {
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

double norm2(const double* x, int64_t n) { return std::sqrt(dot(x, x, n)); }

double distance_squared(const double* a, const double* b, int64_t n) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const double d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1];
        const double d2 = a[i + 2] - b[i + 2], d3 = a[i + 3] - b[i + 3];
        s0 += d0 * d0;
        s1 += d1 * d1;
        s2 += d2 * d2;
        s3 += d3 * d3;
    }
    for (; i < n; ++i) s0 += (a[i] - b[i]) * (a[i] - b[i]);
    return (s0 + s1) + (s2 + s3);
}

void step_point(const double* base, double step, const double* d, double* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = base[i] + step * d[i];
}

namespace {

// Sum over the threads' shares of `share(lo, hi)`, in thread order.
template <class Share>
double threaded_sum(int64_t n, Share share) {
    const int threads = threads_for(n);
    if (threads == 1) return share(0, n);
    std::vector<double> partial(threads, 0.0);
#pragma omp parallel num_threads(threads)
    {
        int64_t lo, hi;
        chunk_of(n, omp_get_thread_num(), omp_get_num_threads(), lo, hi);
        partial[omp_get_thread_num()] = share(lo, hi);
    }
    double sum = 0.0;
    for (const double p : partial) sum += p;
    return sum;
}

}  // namespace

double dot_threaded(const double* a, const double* b, int64_t n) {
    return threaded_sum(n, [&](int64_t lo, int64_t hi) { return dot(a + lo, b + lo, hi - lo); });
}

double distance_squared_threaded(const double* a, const double* b, int64_t n) {
    return threaded_sum(
        n, [&](int64_t lo, int64_t hi) { return distance_squared(a + lo, b + lo, hi - lo); });
}

void step_point_threaded(const double* base, double step, const double* d, double* out,
                         int64_t n) {
    const int threads = threads_for(n);
    if (threads == 1) {
        step_point(base, step, d, out, n);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        int64_t lo, hi;
        chunk_of(n, omp_get_thread_num(), omp_get_num_threads(), lo, hi);
        step_point(base + lo, step, d + lo, out + lo, hi - lo);
    }
}

namespace {

// dot(a, b) and dot(a, a) of one share, each in dot()'s order.
void dot_and_square(const double* a, const double* b, int64_t n, double* ab, double* aa) {
    double s[4] = {0, 0, 0, 0}, q[4] = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        for (int l = 0; l < 4; ++l) {
            s[l] += a[i + l] * b[i + l];
            q[l] += a[i + l] * a[i + l];
        }
    }
    for (; i < n; ++i) {
        s[0] += a[i] * b[i];
        q[0] += a[i] * a[i];
    }
    *ab = (s[0] + s[1]) + (s[2] + s[3]);
    *aa = (q[0] + q[1]) + (q[2] + q[3]);
}

// step_point and distance_squared(out, ref) of one share, the latter in its order.
double step_point_distance(const double* base, double step, const double* d, const double* ref,
                           double* out, int64_t n) {
    double s[4] = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        for (int l = 0; l < 4; ++l) {
            const double x = base[i + l] + step * d[i + l];
            out[i + l] = x;
            const double e = x - ref[i + l];
            s[l] += e * e;
        }
    }
    for (; i < n; ++i) {
        const double x = base[i] + step * d[i];
        out[i] = x;
        s[0] += (x - ref[i]) * (x - ref[i]);
    }
    return (s[0] + s[1]) + (s[2] + s[3]);
}

}  // namespace

void dot_and_square_threaded(const double* a, const double* b, int64_t n, double* ab,
                             double* aa) {
    const int threads = threads_for(n);
    if (threads == 1) {
        dot_and_square(a, b, n, ab, aa);
        return;
    }
    std::vector<double> partial(2 * threads, 0.0);
#pragma omp parallel num_threads(threads)
    {
        const int t = omp_get_thread_num();
        int64_t lo, hi;
        chunk_of(n, t, omp_get_num_threads(), lo, hi);
        dot_and_square(a + lo, b + lo, hi - lo, &partial[2 * t], &partial[2 * t + 1]);
    }
    *ab = 0.0;
    *aa = 0.0;
    for (int t = 0; t < threads; ++t) {
        *ab += partial[2 * t];
        *aa += partial[2 * t + 1];
    }
}

namespace {

// Copies src[0, n) to out as doubles and returns the sum of x - x: 0 when every entry is
// finite, NaN otherwise (inf - inf and NaN - NaN are NaN; no fast-math, so it is not folded).
template <class T>
double copy_and_flag(const T* src, double* out, int64_t n) {
    double flag = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        const double x = static_cast<double>(src[i]);
        out[i] = x;
        flag += x - x;
    }
    return flag;
}

// Gathers out[lo, hi) from the pieces; returns the finiteness flag of those entries.
double gather_range(const GatherPiece* pieces, int64_t count, double* out, int64_t lo,
                    int64_t hi) {
    double flag = 0.0;
    int64_t start = 0;
    for (int64_t p = 0; p < count && start < hi; ++p) {
        const int64_t end = start + pieces[p].n;
        const int64_t a = std::max(lo, start), b = std::min(hi, end);
        if (a < b) {
            if (pieces[p].single) {
                const float* src = static_cast<const float*>(pieces[p].data) + (a - start);
                flag += copy_and_flag(src, out + a, b - a);
            } else {
                const double* src = static_cast<const double*>(pieces[p].data) + (a - start);
                flag += copy_and_flag(src, out + a, b - a);
            }
        }
        start = end;
    }
    return flag;
}

}  // namespace

bool gather_finite_threaded(const GatherPiece* pieces, int64_t count, double* out) {
    int64_t n = 0;
    for (int64_t p = 0; p < count; ++p) n += pieces[p].n;
    const double flag = threaded_sum(
        n, [&](int64_t lo, int64_t hi) { return gather_range(pieces, count, out, lo, hi); });
    return flag == 0.0;
}

double step_point_distance_threaded(const double* base, double step, const double* d,
                                    const double* ref, double* out, int64_t n) {
    return threaded_sum(n, [&](int64_t lo, int64_t hi) {
        return step_point_distance(base + lo, step, d + lo, ref + lo, out + lo, hi - lo);
    });
}

}  // namespace toposcape
