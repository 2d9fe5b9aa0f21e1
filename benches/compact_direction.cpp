// Prototype measurement for issue 15's next step: the L-BFGS direction as the fused two-loop
// (what toposcape's core does, cpp/optim/lbfgs.cpp) against the two passes of a compact /
// vector-free direction (Byrd, Nocedal and Schnabel 1994; Chen et al. 2014): one pass for
// [S Y]^T g, one for d = gamma g + S p + Y q. Both read every float32 pair twice; the two-loop
// also moves q (float64) through 2k passes. Only the memory traffic is modelled (the k x k
// algebra and the Gram updates are left out), so the compact column is a lower bound.
//
//   g++ -O3 -fno-tree-slp-vectorize -fopenmp benches/compact_direction.cpp \
//       -o /tmp/compact_direction
//   OMP_WAIT_POLICY=PASSIVE /tmp/compact_direction 567553    # problem A's CNN
//   OMP_WAIT_POLICY=PASSIVE /tmp/compact_direction 1900000   # problem D's
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

namespace {

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

}  // namespace

int main(int argc, char** argv) {
    const int64_t n = argc > 1 ? std::atoll(argv[1]) : 567553;
    const int k = 10;
    const int threads = 2;
    std::vector<float> S(k * n), Y(k * n);
    std::vector<double> g(n), out(n), sy(k, 1.0), partial(16 * threads);
    std::mt19937 rng(0);
    std::normal_distribution<float> normal;
    for (auto& v : S) v = 1e-2f * normal(rng);
    for (auto& v : Y) v = 1e-2f * normal(rng);
    for (auto& v : g) v = normal(rng);

    auto two_loop = [&]() {
#pragma omp parallel num_threads(threads)
        {
            const int t = omp_get_thread_num(), nt = omp_get_num_threads();
            const int64_t lo = n * t / nt, hi = n * (t + 1) / nt, len = hi - lo;
            double* q = out.data() + lo;
            int step = 0;
            auto reduce = [&](double local) {
                double* buf = partial.data() + (step++ % 2) * 8 * nt;
                buf[8 * t] = local;
#pragma omp barrier
                double sum = 0;
                for (int u = 0; u < nt; ++u) sum += buf[8 * u];
                return sum;
            };
            std::vector<double> alpha(k);
            const float* s0 = S.data() + lo;
            const float* y0 = Y.data() + lo;
            alpha[k - 1] =
                reduce(update_dot([&](int64_t j) { return -g[lo + j]; }, q, s0 + (k - 1) * n,
                                  len)) /
                sy[k - 1];
            for (int i = k - 1; i >= 1; --i) {
                const float* yi = y0 + i * n;
                const double a = alpha[i];
                alpha[i - 1] = reduce(update_dot([&](int64_t j) { return q[j] - a * yi[j]; }, q,
                                                 s0 + (i - 1) * n, len)) /
                               sy[i - 1];
            }
            double beta = reduce(update_dot(
                              [&](int64_t j) { return (q[j] - alpha[0] * y0[j]) * 0.5; }, q,
                              y0, len)) /
                          sy[0];
            for (int i = 0; i + 1 < k; ++i) {
                const float* si = s0 + i * n;
                const double c = alpha[i] - beta;
                beta = reduce(update_dot([&](int64_t j) { return q[j] + c * si[j]; }, q,
                                         y0 + (i + 1) * n, len)) /
                       sy[i + 1];
            }
            for (int64_t j = 0; j < len; ++j) q[j] += (alpha[k - 1] - beta) * s0[(k - 1) * n + j];
        }
    };

    std::vector<double> coef(2 * k + 1, 1e-3), dots(2 * k * threads);
    auto compact = [&]() {
#pragma omp parallel num_threads(threads)
        {
            const int t = omp_get_thread_num(), nt = omp_get_num_threads();
            const int64_t lo = n * t / nt, hi = n * (t + 1) / nt;
            double a[2 * k] = {0};
            for (int64_t j = lo; j < hi; ++j) {
                const double gj = g[j];
                for (int p = 0; p < k; ++p) {
                    a[p] += static_cast<double>(S[p * n + j]) * gj;
                    a[k + p] += static_cast<double>(Y[p * n + j]) * gj;
                }
            }
            for (int p = 0; p < 2 * k; ++p) dots[t * 2 * k + p] = a[p];
#pragma omp barrier
            for (int64_t j = lo; j < hi; ++j) {
                double v = coef[2 * k] * g[j];
                for (int p = 0; p < k; ++p)
                    v += coef[p] * static_cast<double>(S[p * n + j]) +
                         coef[k + p] * static_cast<double>(Y[p * n + j]);
                out[j] = v;
            }
        }
    };

    for (int variant = 0; variant < 2; ++variant) {
        double best = 1e9;
        for (int rep = 0; rep < 25; ++rep) {
            const auto start = std::chrono::steady_clock::now();
            if (variant)
                compact();
            else
                two_loop();
            best = std::min(
                best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                          .count());
        }
        std::printf("n = %lld, %s: %.2f ms (best of 25)\n", static_cast<long long>(n),
                    variant ? "compact direction, two passes" : "fused two-loop", best * 1e3);
    }
}
