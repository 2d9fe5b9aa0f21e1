#include "optim/compact.hpp"

#include <algorithm>
#include <atomic>
#include <vector>

namespace toposcape::optim {

namespace {

constexpr int64_t kBlock = 64;  // entries per block: its g and converted columns stay in L1
constexpr int kLanes = 4;

double lane_sum(const double* lanes) { return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]); }

// Two or four doubles in one vector register (GCC and Clang vector extensions), so that the
// lane sums stay in registers: four lanes as two 16-byte vectors (SSE2, NEON) or one 32-byte
// vector (AVX2, chosen at run time). Each lane sees the same operations either way.
typedef double Double2 __attribute__((vector_size(16)));
typedef double Double4 __attribute__((vector_size(32)));

#define TOPOSCAPE_INLINE inline __attribute__((always_inline))

typedef float Float2 __attribute__((vector_size(8)));
typedef float Float4 __attribute__((vector_size(16)));

// Two or four consecutive entries of a row as doubles (a plain vector load, converted with
// one vector instruction where T is float; independent of the compiler's SLP vectorizer).
// Two or four consecutive entries of a row as doubles. Written as scalar conversions, which
// GCC's SLP vectorizer turns into one vector load and convert (faster here than
// __builtin_convertvector of a loaded float vector): this file must keep SLP on.
template <class T>
TOPOSCAPE_INLINE Double2 load2(const T* p) {
    return Double2{static_cast<double>(p[0]), static_cast<double>(p[1])};
}
template <class T>
TOPOSCAPE_INLINE Double4 load4(const T* p) {
    return Double4{static_cast<double>(p[0]), static_cast<double>(p[1]),
                   static_cast<double>(p[2]), static_cast<double>(p[3])};
}

// The main loop of block_dots: whole groups of four entries, lanes (0, 1) in the first vector
// of each pair and (2, 3) in the second; Wide does the same in one four-lane vector.
template <class T, bool WithG, bool WithC, bool Wide>
TOPOSCAPE_INLINE int64_t block_groups(const T* __restrict s, const T* __restrict y,
                                      const double* __restrict g, const double* __restrict yc,
                                      int64_t len, Double2* sums) {
    int64_t j = 0;
    if constexpr (Wide) {
        Double4 acc[4];
        for (int q = 0; q < 4; ++q) acc[q] = Double4{sums[2 * q][0], sums[2 * q][1],
                                                     sums[2 * q + 1][0], sums[2 * q + 1][1]};
        for (; j + kLanes <= len; j += kLanes) {
            const Double4 s4 = load4(s + j), y4 = load4(y + j);
            if constexpr (WithG) {
                const Double4 g4 = load4(g + j);
                acc[0] += s4 * g4;
                acc[1] += y4 * g4;
            }
            if constexpr (WithC) {
                const Double4 c4 = load4(yc + j);
                acc[2] += s4 * c4;
                acc[3] += y4 * c4;
            }
        }
        for (int q = 0; q < 4; ++q) {
            sums[2 * q] = Double2{acc[q][0], acc[q][1]};
            sums[2 * q + 1] = Double2{acc[q][2], acc[q][3]};
        }
    } else {
        Double2 sg0 = sums[0], sg1 = sums[1], yg0 = sums[2], yg1 = sums[3];
        Double2 sc0 = sums[4], sc1 = sums[5], yc0 = sums[6], yc1 = sums[7];
        for (; j + kLanes <= len; j += kLanes) {
            const Double2 s0 = load2(s + j), s1 = load2(s + j + 2);
            const Double2 y0 = load2(y + j), y1 = load2(y + j + 2);
            if constexpr (WithG) {
                const Double2 g0 = load2(g + j), g1 = load2(g + j + 2);
                sg0 += s0 * g0;
                sg1 += s1 * g1;
                yg0 += y0 * g0;
                yg1 += y1 * g1;
            }
            if constexpr (WithC) {
                const Double2 c0 = load2(yc + j), c1 = load2(yc + j + 2);
                sc0 += s0 * c0;
                sc1 += s1 * c1;
                yc0 += y0 * c0;
                yc1 += y1 * c1;
            }
        }
        sums[0] = sg0, sums[1] = sg1, sums[2] = yg0, sums[3] = yg1;
        sums[4] = sc0, sums[5] = sc1, sums[6] = yc0, sums[7] = yc1;
    }
    return j;
}

// Lane sums over one block of (up to) four inner products of the stored rows s and y: with
// WithG s.g and y.g, with WithC s.yc and y.yc (yc converted to double). acc holds the lane
// sums, kLanes per product, in the order (s.g, y.g, s.yc, y.yc) of the products computed.
template <class T, bool WithG, bool WithC, bool Wide>
TOPOSCAPE_INLINE void block_dots(const T* __restrict s, const T* __restrict y,
                                 const double* __restrict g, const double* __restrict yc,
                                 int64_t len, double* __restrict acc) {
    // lanes (0, 1) and (2, 3) of s.g, y.g, s.yc, y.yc
    Double2 sums[8] = {};
    double* slot = acc;
    if constexpr (WithG) {
        for (int q = 0; q < 4; ++q) sums[q] = Double2{slot[2 * q], slot[2 * q + 1]};
        slot += 2 * kLanes;
    }
    if constexpr (WithC)
        for (int q = 0; q < 4; ++q) sums[4 + q] = Double2{slot[2 * q], slot[2 * q + 1]};
    const int64_t j = block_groups<T, WithG, WithC, Wide>(s, y, g, yc, len, sums);
    // the block's last len % 4 entries, lanes 0, 1, 2 (blocks start at multiples of 4)
    for (int l = 0; j + l < len; ++l) {
        const double sj = static_cast<double>(s[j + l]);
        const double yj = static_cast<double>(y[j + l]);
        const int half = l / 2, lane = l % 2;
        if constexpr (WithG) {
            sums[half][lane] += sj * g[j + l];
            sums[2 + half][lane] += yj * g[j + l];
        }
        if constexpr (WithC) {
            sums[4 + half][lane] += sj * yc[j + l];
            sums[6 + half][lane] += yj * yc[j + l];
        }
    }
    slot = acc;
    if constexpr (WithG) {
        for (int q = 0; q < 4; ++q) slot[2 * q] = sums[q][0], slot[2 * q + 1] = sums[q][1];
        slot += 2 * kLanes;
    }
    if constexpr (WithC)
        for (int q = 0; q < 4; ++q)
            slot[2 * q] = sums[4 + q][0], slot[2 * q + 1] = sums[4 + q][1];
}

template <class T, bool Wide>
TOPOSCAPE_INLINE void products(const T* const* S, const T* const* Y, int k, const double* g,
                               const double* yc, int p, int64_t len, double* lanes) {
    const int per_row = 2 + 2 * p;
    for (int i = 0; i < k; ++i) {
        double* acc = lanes + static_cast<size_t>(i) * per_row * kLanes;
        if (p == 0) {
            block_dots<T, true, false, Wide>(S[i], Y[i], g, nullptr, len, acc);
            continue;
        }
        block_dots<T, true, true, Wide>(S[i], Y[i], g, yc, len, acc);
        for (int c = 1; c < p; ++c)
            block_dots<T, false, true, Wide>(S[i], Y[i], nullptr, yc + c * kBlock, len,
                                             acc + (2 + 2 * c) * kLanes);
    }
}

template <class T>
void products_narrow(const T* const* S, const T* const* Y, int k, const double* g,
                     const double* yc, int p, int64_t len, double* lanes) {
    products<T, false>(S, Y, k, g, yc, p, len, lanes);
}

#if defined(__x86_64__)
// The same with four-lane vectors, for processors with AVX2 (no FMA: the file is built
// without contraction, so the lanes' roundings are those of the narrow version).
template <class T>
__attribute__((target("avx2"))) void products_wide(const T* const* S, const T* const* Y,
                                                   int k, const double* g, const double* yc,
                                                   int p, int64_t len, double* lanes) {
    products<T, true>(S, Y, k, g, yc, p, len, lanes);
}

bool detect_wide() { return __builtin_cpu_supports("avx2"); }
#else
template <class T>
void products_wide(const T* const* S, const T* const* Y, int k, const double* g,
                   const double* yc, int p, int64_t len, double* lanes) {
    products<T, false>(S, Y, k, g, yc, p, len, lanes);
}

bool detect_wide() { return false; }
#endif

std::atomic<bool> use_wide{detect_wide()};

// One block of pass 1 (at most kBlock entries, starting a multiple of kLanes entries after
// its share's start): rows and g point at the block's first entry, the columns yc are
// doubles, kBlock apart; adds to the lane sums (per row: s.g, y.g, then per column s.yc, y.yc).
template <class T>
void block_products(const T* const* S, const T* const* Y, int k, const double* g,
                            const double* yc, int p, int64_t len, double* lanes) {
    if (use_wide.load(std::memory_order_relaxed))
        products_wide<T>(S, Y, k, g, yc, p, len, lanes);
    else
        products_narrow<T>(S, Y, k, g, yc, p, len, lanes);
}

// The sums of compact_products from the lane sums of block_products.
void lane_sums(const double* lanes, int k, int p, double* sums) {
    const int per_row = 2 + 2 * p;
    for (int i = 0; i < k; ++i) {
        const double* acc = lanes + static_cast<size_t>(i) * per_row * kLanes;
        sums[i] = lane_sum(acc);
        sums[k + i] = lane_sum(acc + kLanes);
        for (int c = 0; c < p; ++c) {
            sums[2 * k + 2 * k * c + i] = lane_sum(acc + (2 + 2 * c) * kLanes);
            sums[2 * k + 2 * k * c + k + i] = lane_sum(acc + (3 + 2 * c) * kLanes);
        }
    }
}

}  // namespace

bool compact_wide_vectors(int use) {
    const bool before = use_wide.load();
    if (use >= 0) use_wide.store(use > 0 && detect_wide());
    return before;
}

template <class T>
void compact_products(const T* const* S, const T* const* Y, int k, const double* g,
                      const T* const* Yc, int p, int64_t lo, int64_t hi, double* sums) {
    std::vector<double> lanes(static_cast<size_t>(k) * (2 + 2 * p) * kLanes, 0.0);
    std::vector<double> yc(static_cast<size_t>(std::max(p, 1)) * kBlock);
    std::vector<const T*> S_at(k), Y_at(k);
    for (int64_t b0 = lo; b0 < hi; b0 += kBlock) {
        const int64_t len = std::min(kBlock, hi - b0);
        for (int c = 0; c < p; ++c)
            for (int64_t j = 0; j < len; ++j)
                yc[c * kBlock + j] = static_cast<double>(Yc[c][b0 + j]);
        for (int i = 0; i < k; ++i) {
            S_at[i] = S[i] + b0;
            Y_at[i] = Y[i] + b0;
        }
        block_products<T>(S_at.data(), Y_at.data(), k, g + b0, yc.data(), p, len,
                                  lanes.data());
    }
    lane_sums(lanes.data(), k, p, sums);
}

namespace {

template <class T, bool Wide>
TOPOSCAPE_INLINE void combine(const T* const* S, const T* const* Y, int k, const double* g,
                              double c, const double* cs, const double* cy, int64_t lo,
                              int64_t hi, double* out) {
    // Eight entries at a time, their partial results in registers while every row streams by.
    // (lo - hi need not be a multiple of 8: shares are, blocks of a caller need not be.)
    constexpr int kGroup = 8;
    int64_t j = lo;
    for (; j + kGroup <= hi; j += kGroup) {
        if constexpr (Wide) {
            Double4 v0 = c * load4(g + j), v1 = c * load4(g + j + 4);
            for (int i = 0; i < k; ++i) {
                const T* s = S[i] + j;
                const T* y = Y[i] + j;
                v0 += cs[i] * load4(s);
                v1 += cs[i] * load4(s + 4);
                v0 += cy[i] * load4(y);
                v1 += cy[i] * load4(y + 4);
            }
            for (int l = 0; l < 4; ++l) out[j + l] = v0[l], out[j + 4 + l] = v1[l];
        } else {
            double v[kGroup];
            for (int l = 0; l < kGroup; ++l) v[l] = c * g[j + l];
            for (int i = 0; i < k; ++i) {
                const T* __restrict s = S[i] + j;
                const T* __restrict y = Y[i] + j;
                const double a = cs[i], b = cy[i];
                for (int l = 0; l < kGroup; ++l) {
                    v[l] += a * static_cast<double>(s[l]);
                    v[l] += b * static_cast<double>(y[l]);
                }
            }
            for (int l = 0; l < kGroup; ++l) out[j + l] = v[l];
        }
    }
    for (; j < hi; ++j) {
        double v = c * g[j];
        for (int i = 0; i < k; ++i) {
            v += cs[i] * static_cast<double>(S[i][j]);
            v += cy[i] * static_cast<double>(Y[i][j]);
        }
        out[j] = v;
    }
}

template <class T>
void combine_narrow(const T* const* S, const T* const* Y, int k, const double* g, double c,
                    const double* cs, const double* cy, int64_t lo, int64_t hi, double* out) {
    combine<T, false>(S, Y, k, g, c, cs, cy, lo, hi, out);
}

#if defined(__x86_64__)
template <class T>
__attribute__((target("avx2"))) void combine_wide(const T* const* S, const T* const* Y, int k,
                                                  const double* g, double c, const double* cs,
                                                  const double* cy, int64_t lo, int64_t hi,
                                                  double* out) {
    combine<T, true>(S, Y, k, g, c, cs, cy, lo, hi, out);
}
#else
template <class T>
void combine_wide(const T* const* S, const T* const* Y, int k, const double* g, double c,
                  const double* cs, const double* cy, int64_t lo, int64_t hi, double* out) {
    combine<T, false>(S, Y, k, g, c, cs, cy, lo, hi, out);
}
#endif

}  // namespace

template <class T>
double compact_combine(const T* const* S, const T* const* Y, int k, const double* g, double c,
                       const double* cs, const double* cy, int64_t lo, int64_t hi,
                       double* out) {
    // In blocks, each block's g.out read back from L1 while the block is still there.
    double slope[kLanes] = {0, 0, 0, 0};
    const bool wide = use_wide.load(std::memory_order_relaxed);
    for (int64_t b0 = lo; b0 < hi; b0 += kBlock) {
        const int64_t b1 = std::min(hi, b0 + kBlock);
        if (wide)
            combine_wide<T>(S, Y, k, g, c, cs, cy, b0, b1, out);
        else
            combine_narrow<T>(S, Y, k, g, c, cs, cy, b0, b1, out);
        int64_t j = b0;  // b0 - lo is a multiple of kLanes
        for (; j + kLanes <= b1; j += kLanes)
            for (int l = 0; l < kLanes; ++l) slope[l] += g[j + l] * out[j + l];
        for (int l = 0; j + l < b1; ++l) slope[l] += g[j + l] * out[j + l];
    }
    return lane_sum(slope);
}

template void compact_products<float>(const float* const*, const float* const*, int,
                                      const double*, const float* const*, int, int64_t,
                                      int64_t, double*);
template double compact_combine<float>(const float* const*, const float* const*, int,
                                       const double*, double, const double*, const double*,
                                       int64_t, int64_t, double*);

}  // namespace toposcape::optim
