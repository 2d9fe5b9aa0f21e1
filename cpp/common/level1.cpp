#include "common/level1.hpp"

#include <omp.h>

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

}  // namespace toposcape
