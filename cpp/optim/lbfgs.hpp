// L-BFGS memory: a ring buffer of curvature pairs (s, y), the two-loop recursion for H_k g, the
// compact-representation products B_k v and H_k v of Byrd, Nocedal and Schnabel (1994), and
// the descent direction -H_k g (the two-loop, or with float storage the compact form's two
// passes, optim/compact.hpp).
//
// Pairs are stored in one contiguous block per kind (m x n, row i = one pair), so the two-loop
// and the compact products are sequences of dot products and axpys over contiguous rows.
//
// With `single` the pairs are stored in float32 (products still accumulate in double). The
// two-loop streams the whole memory twice per call and is bound by memory bandwidth, so this
// halves its time; it suits objectives whose gradients are float32 computations anyway (a
// float32 CNN), where rounding the pairs to float32 perturbs the direction far less than the
// gradient's own rounding. s.y and y.y are computed from the stored (rounded) pairs, so B_k
// and H_k remain exact inverses of each other for the matrix actually used.
//
// Thread safety: the bindings release the GIL around every pass, and Python threads (Dask
// workers run tasks in threads) may share one memory, so every public method that reads the
// pairs takes a shared lock and every method that changes them an exclusive one. Concurrent
// products (two_loop, apply_b, apply_h) still run side by side; a push waits for them; float
// storage's directions run one at a time (they fill the Gram cache).
#pragma once
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "common/buffer.hpp"

namespace toposcape::optim {

class LbfgsMemory {
public:
    LbfgsMemory(int64_t n, int m, bool single = false);

    int64_t n() const { return n_; }
    int m() const { return m_; }
    bool single() const { return single_; }
    int size() const;  // pairs stored, <= m
    int64_t n_pushed() const;
    int64_t n_skipped() const;

    // Store (s, y) unless the curvature test fails: the pair is skipped when
    // s.y <= eps * skip_scale (L-BFGS-B's rule uses skip_scale = -g_old.s > 0). Pairs whose
    // s.y or y.y overflow, whose y.y underflows to 0 or whose s.y / y.y overflows are skipped
    // the same way (the recursion would turn them into NaN); a NaN or inf entry in s or y
    // (push_step: in step, d, g_new or g_old) throws std::invalid_argument, nothing stored.
    // `sy` may pass a precomputed s.y (NaN: compute it; ignored with single storage, where
    // s.y of the rounded pair is used). Returns whether the pair was stored.
    bool push(const double* s, const double* y, double skip_scale, double eps, double sy);
    // push(s, y) with s = step * d and y = g_new - g_old formed on the fly (no temporaries:
    // the optimizer loop's vectors are streamed instead of materialised).
    bool push_step(const double* d, double step, const double* g_new, const double* g_old,
                   double skip_scale, double eps);
    void clear();

    // Initial scaling gamma = s.y / y.y of the newest pair (1 when empty); H_0 = gamma I,
    // B_0 = I / gamma.
    double gamma() const;

    // out = H_k g by the two-loop recursion (out may alias nothing; g is not modified);
    // negate: out = -H_k g (the descent direction) at no extra cost.
    // Threaded over the vector for long vectors (see common/parallel.hpp).
    void two_loop(const double* g, double* out, bool negate = false) const;
    // out = -H_k g, the L-BFGS descent direction. With double storage this is the two-loop
    // (L-BFGS-B's arithmetic, negated). With float storage it is the compact representation
    // (optim/compact.hpp): two passes over the pairs and none over a work vector, the Gram
    // entries s_i.y_j, y_i.y_j of each newly stored pair gathered in the first pass after
    // its push, from the stored (rounded) rows, so H_k is exactly that of the stored pairs.
    // Same matrix as two_loop, different rounding. With float storage, calls on one memory
    // run one at a time (they share the Gram cache).
    // slope: if given, receives g.out (with float storage from the direction's own pass, in
    // its lane order; with double storage dot_threaded(g, out)).
    void direction(const double* g, double* out, double* slope = nullptr) const;
    // out = B_k v and out = H_k v from the compact representations.
    void apply_b(const double* v, double* out) const;
    void apply_h(const double* v, double* out) const;

    // The stored pairs, oldest first, as doubles: S and Y become size() x n, row-major, read
    // under one lock so that both come from the same state. Returns size().
    int copy_pairs(std::vector<double>& S, std::vector<double>& Y) const;

private:
    // The private helpers take no lock: their callers hold mutex_ (shared or exclusive).
    double gamma_unlocked() const;
    double sy(int i) const { return sy_[slot(i)]; }
    int64_t slot(int i) const { return (head_ + i) % slots_; }
    template <class T>
    const T* s(int i) const {
        return reinterpret_cast<const T*>(S_.data()) + slot(i) * n_;
    }
    template <class T>
    const T* y(int i) const {
        return reinterpret_cast<const T*>(Y_.data()) + slot(i) * n_;
    }
    template <class T>
    T* s_slot(int64_t dst) {
        return reinterpret_cast<T*>(S_.data()) + dst * n_;
    }
    template <class T>
    T* y_slot(int64_t dst) {
        return reinterpret_cast<T*>(Y_.data()) + dst * n_;
    }
    template <class T, class Pair>
    bool push_impl(const Pair& pair, double skip_scale, double eps, double sy);
    template <class T>
    void two_loop_impl(const double* g, double* out, bool negate) const;
    // The compact direction (float storage; the caller holds mutex_ shared and
    // compact_mutex_). Returns g.out.
    template <class T>
    double compact_direction(const double* g, double* out) const;
    void compact_coefficients(const double* a, const double* b, double* cs, double* cy) const;
    void store_gram_column(int64_t col, int k_rows, const double* r, const double* w) const;
    template <class T>
    void gram_impl() const;
    template <class T>
    void apply_b_impl(const double* v, double* out) const;
    template <class T>
    void apply_h_impl(const double* v, double* out) const;
    void gram(std::vector<double>& SS, std::vector<double>& SY, std::vector<double>& YY) const;

    int64_t n_;
    int m_;
    // m + 1 rows: a new pair is written into the free row in the same pass that tests it, and
    // the oldest pair is dropped only once the new one is accepted.
    int slots_;
    bool single_;
    int count_ = 0;
    int head_ = 0;  // slot of the oldest pair
    int64_t pushed_ = 0;
    int64_t skipped_ = 0;
    DoubleBuffer S_, Y_;  // (m + 1) x n doubles or floats each, on huge pages where possible
    std::vector<double> sy_, yy_;
    // Guards everything above that push and clear change (pairs, counters, ring position).
    mutable std::shared_mutex mutex_;
    // The Gram cache is filled lazily by readers, which hold mutex_ only shared: it needs its
    // own lock. Writers invalidate it under mutex_ held exclusively, when no reader is inside.
    mutable std::mutex gram_mutex_;
    mutable bool gram_valid_ = false;
    mutable std::vector<double> SS_, SY_, YY_;  // Gram matrices, chronological order
    // The compact direction's Gram entries by slot, (m + 1) x (m + 1) each: slot_sy_[a, b] =
    // s_a.y_b, slot_yy_[a, b] = y_a.y_b. A push marks its slot pending (under mutex_ held
    // exclusively); the next direction fills the slot's row and column and clears the mark,
    // under compact_mutex_.
    mutable std::mutex compact_mutex_;
    mutable std::vector<double> slot_sy_, slot_yy_;
    mutable std::vector<char> slot_pending_;
};

}  // namespace toposcape::optim
