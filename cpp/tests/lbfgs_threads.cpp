// ThreadSanitizer check of LbfgsMemory's locking, without Python: threads push, push_step,
// clear, read and apply on one memory at once, with double and float storage (float: the
// compact direction fills its Gram cache while others read) (.ci/sanitize builds and runs it).
//
// Vectors stay below the threaded-pass size (common/parallel.cpp) so that no OpenMP region
// runs: libgomp is not instrumented and its barriers would read as races.
#include <cstdio>
#include <limits>
#include <random>
#include <thread>
#include <vector>

#include "optim/lbfgs.hpp"

using toposcape::optim::LbfgsMemory;

int run(bool single) {
    const int64_t n = 4096;
    const int rounds = 200;
    LbfgsMemory mem(n, 4, single);
    std::vector<int> failures(4, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            std::mt19937 rng(t);
            std::normal_distribution<double> normal;
            std::vector<double> s(n), y(n), g(n), out(n), S, Y;
            for (int it = 0; it < rounds; ++it) {
                for (int64_t i = 0; i < n; ++i) {
                    s[i] = normal(rng);
                    y[i] = 2.0 * s[i] + 0.01 * normal(rng);
                    g[i] = normal(rng);
                }
                if (t == 0) {
                    failures[t] += !mem.push(s.data(), y.data(), 0.0, 1e-16,
                                             std::numeric_limits<double>::quiet_NaN());
                } else if (t == 1) {
                    if (it % 50 == 0) mem.clear();
                    // y = (2 s + noise) - 0: s.y > 0, always stored.
                    std::vector<double> zero(n, 0.0);
                    failures[t] += !mem.push_step(y.data(), 0.5, s.data(), zero.data(), 0.0,
                                                  1e-16);
                } else if (t == 2) {
                    mem.two_loop(g.data(), out.data(), true);
                    double slope = 0.0;
                    mem.direction(g.data(), out.data(), &slope);
                    failures[t] += !(slope <= 0.0);  // -H g with H positive definite
                    mem.apply_b(g.data(), out.data());
                } else {
                    mem.apply_h(g.data(), out.data());
                    const int k = mem.copy_pairs(S, Y);
                    failures[t] += k > mem.m() || S.size() != static_cast<size_t>(k) * n;
                    failures[t] += !(mem.gamma() > 0.0);
                }
            }
        });
    }
    for (auto& thread : threads) thread.join();
    int failed = 0;
    for (int f : failures) failed += f;
    if (mem.n_pushed() != 2 * rounds || mem.size() > mem.m() || failed != 0) {
        std::fprintf(stderr,
                     "lbfgs_threads (%s pairs): pushed %lld of %d, size %d, %d failed checks\n",
                     single ? "float" : "double", static_cast<long long>(mem.n_pushed()),
                     2 * rounds, mem.size(), failed);
        return 1;
    }
    std::printf("lbfgs_threads (%s pairs): ok (%lld pairs pushed by 2 threads while 2 others "
                "read)\n",
                single ? "float" : "double", static_cast<long long>(mem.n_pushed()));
    return 0;
}

int main() { return run(false) | run(true); }
