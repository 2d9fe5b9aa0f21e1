// The core's two ways to the L-BFGS direction -H_k g on float32 pairs, side by side in one
// process (issue 15): the fused two-loop (LbfgsMemory::two_loop, 2m passes over its work vector
// q besides the pairs) and the compact representation (LbfgsMemory::direction, two passes over
// the pairs, none over a work vector), each after a pair push as in an L-BFGS step (the
// compact form then gathers the new pair's Gram entries in its first pass).
//
// Built with the flags CMakeLists.txt gives each file (compact.cpp: no contraction, SLP on;
// lbfgs.cpp: SLP off):
//
//   g++ -O3 -fopenmp -ffp-contract=off -Wno-psabi -Icpp -c cpp/optim/compact.cpp \
//       -o /tmp/compact.o
//   g++ -O3 -fopenmp -fno-tree-slp-vectorize -Icpp benches/compact_direction.cpp \
//       cpp/optim/lbfgs.cpp cpp/common/level1.cpp cpp/common/parallel.cpp \
//       cpp/common/buffer.cpp /tmp/compact.o -o /tmp/compact_direction
//   OMP_WAIT_POLICY=PASSIVE /tmp/compact_direction 567553    # problem A's CNN
//   OMP_WAIT_POLICY=PASSIVE /tmp/compact_direction 1936641   # problem D's

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "common/parallel.hpp"
#include "optim/lbfgs.hpp"

int main(int argc, char** argv) {
    const int64_t n = argc > 1 ? std::atoll(argv[1]) : 567553;
    const int m = 10;
    toposcape::set_num_threads(2);
    std::mt19937 rng(0);
    std::normal_distribution<double> normal;
    toposcape::optim::LbfgsMemory memory(n, m, /*single=*/true);
    std::vector<double> d(n), g_old(n), g(n), out(n);
    for (int64_t j = 0; j < n; ++j) {
        d[j] = normal(rng);
        g_old[j] = normal(rng);
        g[j] = g_old[j] + d[j] * (1.5 + 0.1 * normal(rng));
    }
    for (int pair = 0; pair < m; ++pair) memory.push_step(d.data(), 1.0, g.data(), g_old.data(), -1e300, 0.0);

    auto best_of = [&](auto&& step) {
        double best = 1e9;
        for (int rep = 0; rep < 25; ++rep) {
            memory.push_step(d.data(), 1.0, g.data(), g_old.data(), -1e300, 0.0);
            const auto start = std::chrono::steady_clock::now();
            step();
            best = std::min(best, std::chrono::duration<double>(
                                      std::chrono::steady_clock::now() - start)
                                      .count());
        }
        return best * 1e3;
    };
    const double two_loop = best_of([&] { memory.two_loop(g.data(), out.data(), true); });
    const double compact = best_of([&] { memory.direction(g.data(), out.data()); });
    std::printf("n = %lld, %d float32 pairs, best of 25 after a push: two-loop %.2f ms, "
                "compact direction %.2f ms (%.2fx)\n",
                static_cast<long long>(n), m, two_loop, compact, two_loop / compact);
}
