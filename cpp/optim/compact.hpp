// The two passes over the pairs of the compact-representation L-BFGS direction
// (LbfgsMemory::direction with float32 pairs; Byrd, Nocedal and Schnabel 1994).
//
// The two-loop recursion reads every pair twice but also moves its double vector q through
// 2m passes; the compact form reads every pair twice and q not at all: pass 1 gathers the
// inner products [S Y]^T g (and the Gram entries of newly stored pairs), a k x k solve makes
// the coefficients, pass 2 forms d = c g + S cs + Y cy. Both passes are over shares [lo, hi)
// of the entries, so they can run on the core's threads.
//
// Summation order (documented, as results are reproduced bit for bit): entries are taken in
// blocks of `kBlock`; within a share, each inner product keeps four lane sums (lane l takes
// the entries j with j % 4 == l, counted from lo) added as (l0 + l1) + (l2 + l3). Products of
// two floats are exact in double; every multiplication and addition is a separately rounded
// double operation (the file is built without floating-point contraction), so builds for any
// x86-64 vector width give the same bits.
#pragma once
#include <cstdint>

namespace toposcape::optim {

// Whether pass 1 and 2 use four-lane (AVX2) vectors, chosen at load time when the processor
// has them; use = 0 or 1 turns them off or (where available) on, -1 only asks. Returns the
// setting before the call. For tests: the results are the same bits either way.
bool compact_wide_vectors(int use);

// Pass 1 over [lo, hi): for i < k,
//   sums[i]     = S_i . g,     sums[k + i]   = Y_i . g,
// and for every pending column c < p (its stored y row Yc[c]),
//   sums[2k + 2kc + i] = S_i . Yc[c],   sums[2k + 2kc + k + i] = Y_i . Yc[c].
// S[i], Y[i] point at the start of the stored rows (not offset by lo). sums is overwritten.
template <class T>
void compact_products(const T* const* S, const T* const* Y, int k, const double* g,
                      const T* const* Yc, int p, int64_t lo, int64_t hi, double* sums);

// Pass 2 over [lo, hi): out[j] = c * g[j] + cs[0] S_0[j] + cy[0] Y_0[j] + cs[1] S_1[j] + ...,
// added in that order. Returns the share's g.out (lanes as above, entries counted from lo),
// the direction's slope, read back while the entries are in L1.
template <class T>
double compact_combine(const T* const* S, const T* const* Y, int k, const double* g, double c,
                       const double* cs, const double* cy, int64_t lo, int64_t hi,
                       double* out);

}  // namespace toposcape::optim
