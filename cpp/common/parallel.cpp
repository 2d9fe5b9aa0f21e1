#include "common/parallel.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>

namespace toposcape {
namespace {

int default_threads() {
    if (const char* env = std::getenv("TOPOSCAPE_NUM_THREADS")) {
        const int n = std::atoi(env);
        if (n >= 1) return n;
    }
    // Every processor (at most 8), like torch's own default: the memory-bound passes gain from
    // each core that is idle. A barrier-synchronised pass whose second thread shares a core
    // with another busy process runs slower than serial, so whoever runs several jobs side by
    // side should set TOPOSCAPE_NUM_THREADS=1 (and torch's threads).
    return std::clamp(omp_get_num_procs(), 1, 8);
}

std::atomic<int> g_threads{0};  // 0: not set yet

// Below this many doubles a pass fits in cache and a barrier costs more than it saves.
constexpr int64_t kParallelMin = 1 << 17;

}  // namespace

int num_threads() {
    int n = g_threads.load(std::memory_order_relaxed);
    if (n == 0) {
        n = default_threads();
        g_threads.store(n, std::memory_order_relaxed);
    }
    return n;
}

void set_num_threads(int n) { g_threads.store(n >= 1 ? n : default_threads()); }

int threads_for(int64_t n) {
    if (n < kParallelMin) return 1;
    return static_cast<int>(std::min<int64_t>(num_threads(), n / (kParallelMin / 2)));
}

}  // namespace toposcape
