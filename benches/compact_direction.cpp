// Prototype measurement for issue 15's next step: toposcape's L-BFGS direction (the core's
// fused two-loop, cpp/optim/lbfgs.cpp, on float32 pairs) against the two passes of a compact /
// vector-free direction (Byrd, Nocedal and Schnabel 1994; Chen et al. 2014): one pass for
// [S Y]^T g, one for d = gamma g + S p + Y q. Both read every float32 pair twice; the two-loop
// also moves q (float64) through 2k passes. The compact side models only that memory traffic
// (the k x k algebra and the Gram updates are left out), so its time is a lower bound.
//
//   g++ -O3 -fno-tree-slp-vectorize -fopenmp -Icpp benches/compact_direction.cpp \
//       cpp/optim/lbfgs.cpp cpp/common/level1.cpp cpp/common/parallel.cpp \
//       cpp/common/buffer.cpp -o /tmp/compact_direction
//   OMP_WAIT_POLICY=PASSIVE /tmp/compact_direction 567553    # problem A's CNN
//   OMP_WAIT_POLICY=PASSIVE /tmp/compact_direction 1900000   # problem D's

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <random>
#include <vector>

#include "common/parallel.hpp"
#include "optim/lbfgs.hpp"

int main(int argc, char** argv) {
    const int64_t n = argc > 1 ? std::atoll(argv[1]) : 567553;
    const int k = 10;
    const int threads = 2;
    toposcape::set_num_threads(threads);
    std::mt19937 rng(0);
    std::normal_distribution<double> normal;
    toposcape::optim::LbfgsMemory memory(n, k, /*single=*/true);
    std::vector<double> s(n), y(n), g(n), out(n);
    for (int pair = 0; pair < k; ++pair) {
        for (int64_t j = 0; j < n; ++j) {
            s[j] = 1e-2 * normal(rng);
            y[j] = s[j] * (1.5 + 0.5 * normal(rng) * 0.1);
        }
        memory.push(s.data(), y.data(), 0.0, 0.0, std::nan(""));
    }
    for (auto& v : g) v = normal(rng);
    // the compact side's rows: the same float32 pairs, as the memory stores them
    std::vector<float> S(k * n), Y(k * n);
    for (auto& v : S) v = static_cast<float>(1e-2 * normal(rng));
    for (auto& v : Y) v = static_cast<float>(1e-2 * normal(rng));

    auto two_loop = [&]() { memory.two_loop(g.data(), out.data(), true); };

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

    std::printf("pairs held: %d of %d\n", memory.size(), k);
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
                    variant ? "compact direction, two passes" : "core's fused two-loop",
                    best * 1e3);
    }
}
