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

// dot(a, b) and dot(a, a) in one pass, each bitwise what dot() gives (the optimizer loop's
// slope g.d and the recorder's |g|^2 from one read of g).
void dot_and_square_threaded(const double* a, const double* b, int64_t n, double* ab,
                             double* aa);
// step_point(base, step, d, out) and distance_squared(out, ref) in one pass (a trial point and
// its distance from the run's start), the latter bitwise distance_squared_threaded's.
double step_point_distance_threaded(const double* base, double step, const double* d,
                                    const double* ref, double* out, int64_t n);

// One piece of a gathered vector: `n` entries of float (single) or double at `data`.
struct GatherPiece {
    const void* data;
    int64_t n;
    bool single;
};
// Concatenates the pieces into out (their total length), converting floats to double
// (exact), in one pass over the core's threads; returns whether every entry is finite. The
// CNN's gradient, one tensor per parameter group, becomes the optimizer's float64 vector this
// way, and a gradient that overflowed is caught in the same pass.
bool gather_finite_threaded(const GatherPiece* pieces, int64_t count, double* out);

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

// y[i] = update(i) for every i, followed by dot_mixed(z, y, n), in one pass over y: bitwise
// the same results as the update's own pass and then dot_mixed (each y[i] is rounded once,
// then enters the same accumulator in the same order). The L-BFGS two-loop pairs each update
// of q with the next dot product this way, halving its passes over q; the dot's dependency
// chain hides the update's arithmetic. `update(i)` may read y[i] (not yet overwritten).
template <class T, class Update>
double update_dot(Update update, double* y, const T* z, int64_t n) {
    double s[4] = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        for (int l = 0; l < 4; ++l) {
            const double yi = update(i + l);
            y[i + l] = yi;
            s[l] += static_cast<double>(z[i + l]) * yi;
        }
    }
    for (; i < n; ++i) {
        const double yi = update(i);
        y[i] = yi;
        s[0] += static_cast<double>(z[i]) * yi;
    }
    return (s[0] + s[1]) + (s[2] + s[3]);
}

// axpy(a, x, y, n), then dot_mixed(z, y, n), in one pass.
template <class T>
double axpy_dot(double a, const T* x, double* y, const T* z, int64_t n) {
    return update_dot([&](int64_t i) { return y[i] + a * static_cast<double>(x[i]); }, y, z, n);
}

// y = c * (y + a * x), then dot_mixed(z, y, n), in one pass.
template <class T>
double axpy_scale_dot(double a, const T* x, double c, double* y, const T* z, int64_t n) {
    return update_dot([&](int64_t i) { return (y[i] + a * static_cast<double>(x[i])) * c; }, y,
                      z, n);
}

// y = x or y = -x (negate), then dot_mixed(z, y, n), in one pass.
template <class T>
double copy_dot(const double* x, bool negate, double* y, const T* z, int64_t n) {
    if (negate) return update_dot([&](int64_t i) { return -x[i]; }, y, z, n);
    return update_dot([&](int64_t i) { return x[i]; }, y, z, n);
}

}  // namespace toposcape
