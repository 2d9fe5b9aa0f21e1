// Threads of the core's memory-bound kernels (two-loop, reorthogonalization).
//
// Level-1 work over millions of entries is limited by memory bandwidth, which one core of a
// server CPU cannot saturate: a second thread speeds the L-BFGS two-loop up on an otherwise
// idle machine, but slows it below serial when another process holds the second core (every
// barrier then waits for a time slice; figures in BENCHMARKS.md). The count is the
// core's own (not OpenMP's global setting, which torch.set_num_threads changes); it defaults
// to every processor (at most 8), as torch does, and small vectors stay serial because a
// barrier costs more than the work.
#pragma once
#include <algorithm>
#include <cstdint>

namespace toposcape {

// Threads used by the core's parallel kernels (>= 1).
int num_threads();
// Set the count; n <= 0 restores the default (TOPOSCAPE_NUM_THREADS, else the number of
// processors, at least 1 and at most 8).
void set_num_threads(int n);
// Threads worth using for a pass over `n` doubles.
int threads_for(int64_t n);

// [begin, end) of thread t's share of n entries, split at multiples of 8 (64-byte lines).
inline void chunk_of(int64_t n, int t, int threads, int64_t& begin, int64_t& end) {
    const int64_t lines = (n + 7) / 8;
    begin = std::min<int64_t>(n, (lines * t / threads) * 8);
    end = std::min<int64_t>(n, (lines * (t + 1) / threads) * 8);
}

}  // namespace toposcape
