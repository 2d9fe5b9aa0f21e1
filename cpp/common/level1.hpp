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

// The same over the core's threads for long vectors (parallel.hpp: threads_for, chunk_of);
// a reduction adds the threads' partial sums, each in the order above, in thread order, so
// results are deterministic for a given thread count and equal the serial ones below the
// parallel threshold. One memory-bound pass per call: a second thread doubles the bandwidth
// that one core of these machines draws.
double dot_threaded(const double* a, const double* b, int64_t n);
double distance_squared_threaded(const double* a, const double* b, int64_t n);
void step_point_threaded(const double* base, double step, const double* d, double* out,
                         int64_t n);

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

// axpy(a, x, y, n) followed by dot_mixed(z, y, n), in one pass over y: bitwise the same
// results (each y[i] is rounded once, then enters the same accumulator in the same order).
// The L-BFGS two-loop pairs each update with the next dot product this way, halving its
// passes over y; the dot's dependency chain hides the update's arithmetic.
template <class T>
double axpy_dot(double a, const T* x, double* y, const T* z, int64_t n) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const double y0 = y[i] + a * static_cast<double>(x[i]);
        const double y1 = y[i + 1] + a * static_cast<double>(x[i + 1]);
        const double y2 = y[i + 2] + a * static_cast<double>(x[i + 2]);
        const double y3 = y[i + 3] + a * static_cast<double>(x[i + 3]);
        y[i] = y0;
        y[i + 1] = y1;
        y[i + 2] = y2;
        y[i + 3] = y3;
        s0 += static_cast<double>(z[i]) * y0;
        s1 += static_cast<double>(z[i + 1]) * y1;
        s2 += static_cast<double>(z[i + 2]) * y2;
        s3 += static_cast<double>(z[i + 3]) * y3;
    }
    for (; i < n; ++i) {
        const double yi = y[i] + a * static_cast<double>(x[i]);
        y[i] = yi;
        s0 += static_cast<double>(z[i]) * yi;
    }
    return (s0 + s1) + (s2 + s3);
}

// y = c * (y + a * x) followed by dot_mixed(z, y, n), in one pass (as axpy_dot).
template <class T>
double axpy_scale_dot(double a, const T* x, double c, double* y, const T* z, int64_t n) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const double y0 = (y[i] + a * static_cast<double>(x[i])) * c;
        const double y1 = (y[i + 1] + a * static_cast<double>(x[i + 1])) * c;
        const double y2 = (y[i + 2] + a * static_cast<double>(x[i + 2])) * c;
        const double y3 = (y[i + 3] + a * static_cast<double>(x[i + 3])) * c;
        y[i] = y0;
        y[i + 1] = y1;
        y[i + 2] = y2;
        y[i + 3] = y3;
        s0 += static_cast<double>(z[i]) * y0;
        s1 += static_cast<double>(z[i + 1]) * y1;
        s2 += static_cast<double>(z[i + 2]) * y2;
        s3 += static_cast<double>(z[i + 3]) * y3;
    }
    for (; i < n; ++i) {
        const double yi = (y[i] + a * static_cast<double>(x[i])) * c;
        y[i] = yi;
        s0 += static_cast<double>(z[i]) * yi;
    }
    return (s0 + s1) + (s2 + s3);
}

// y = sign * x (sign = +1 or -1) followed by dot_mixed(z, y, n), in one pass.
template <class T>
double copy_dot(const double* x, bool negate, double* y, const T* z, int64_t n) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const double y0 = negate ? -x[i] : x[i];
        const double y1 = negate ? -x[i + 1] : x[i + 1];
        const double y2 = negate ? -x[i + 2] : x[i + 2];
        const double y3 = negate ? -x[i + 3] : x[i + 3];
        y[i] = y0;
        y[i + 1] = y1;
        y[i + 2] = y2;
        y[i + 3] = y3;
        s0 += static_cast<double>(z[i]) * y0;
        s1 += static_cast<double>(z[i + 1]) * y1;
        s2 += static_cast<double>(z[i + 2]) * y2;
        s3 += static_cast<double>(z[i + 3]) * y3;
    }
    for (; i < n; ++i) {
        const double yi = negate ? -x[i] : x[i];
        y[i] = yi;
        s0 += static_cast<double>(z[i]) * yi;
    }
    return (s0 + s1) + (s2 + s3);
}

}  // namespace toposcape
