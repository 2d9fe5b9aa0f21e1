// Level-1 kernels over raw arrays (dot products, norms, axpy), shared by optim/ and linalg/.
//
// Dot products use four accumulators added as (s0 + s1) + (s2 + s3): the loop vectorizes and
// the summation error of long vectors stays small. Every caller relies on that exact order
// (threaded passes add per-thread partial sums of it), so it must not change: results are
// reproducible bit for bit across releases.
#pragma once
#include <cstdint>

namespace toposcape {

double dot(const double* a, const double* b, int64_t n);
// sqrt(dot(x, x)).
double norm2(const double* x, int64_t n);
// ||a - b||^2 in one pass.
double distance_squared(const double* a, const double* b, int64_t n);
// out = base + step * d in one pass.
void step_point(const double* base, double step, const double* d, double* out, int64_t n);

// dot() over a stored row of doubles or floats and a double vector, accumulated in double
// in the order of dot(), so that double storage gives exactly dot().
template <class A, class B>
double dot_mixed(const A* a, const B* b, int64_t n) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += static_cast<double>(a[i]) * static_cast<double>(b[i]);
        s1 += static_cast<double>(a[i + 1]) * static_cast<double>(b[i + 1]);
        s2 += static_cast<double>(a[i + 2]) * static_cast<double>(b[i + 2]);
        s3 += static_cast<double>(a[i + 3]) * static_cast<double>(b[i + 3]);
    }
    for (; i < n; ++i) s0 += static_cast<double>(a[i]) * static_cast<double>(b[i]);
    return (s0 + s1) + (s2 + s3);
}

// y += a * x, x stored as doubles or floats.
template <class T>
void axpy(double a, const T* x, double* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += a * static_cast<double>(x[i]);
}

}  // namespace toposcape
