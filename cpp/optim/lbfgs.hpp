// L-BFGS memory: a ring buffer of curvature pairs (s, y), the two-loop recursion for H_k g and
// the compact-representation products B_k v and H_k v of Byrd, Nocedal and Schnabel (1994).
//
// Pairs are stored in one contiguous block per kind (m x n, row i = one pair), so the two-loop
// and the compact products are sequences of dot products and axpys over contiguous rows.
#pragma once
#include <cstdint>
#include <mutex>
#include <vector>

#include "common/buffer.hpp"

namespace toposcape::optim {

class LbfgsMemory {
public:
    LbfgsMemory(int64_t n, int m);

    int64_t n() const { return n_; }
    int m() const { return m_; }
    int size() const { return count_; }      // pairs stored, <= m
    int64_t n_pushed() const { return pushed_; }
    int64_t n_skipped() const { return skipped_; }

    // Store (s, y) unless the curvature test fails: the pair is skipped when
    // s.y <= eps * skip_scale (L-BFGS-B's rule uses skip_scale = -g_old.s > 0).
    // `sy` may pass a precomputed s.y (NaN: compute it). Returns whether the pair was stored.
    bool push(const double* s, const double* y, double skip_scale, double eps, double sy);
    void clear();

    // Initial scaling gamma = s.y / y.y of the newest pair (1 when empty); H_0 = gamma I,
    // B_0 = I / gamma.
    double gamma() const;

    // out = H_k g by the two-loop recursion (out may alias nothing; g is not modified).
    // Threaded over the vector for long vectors (see common/parallel.hpp).
    void two_loop(const double* g, double* out) const;
    // out = B_k v and out = H_k v from the compact representations.
    void apply_b(const double* v, double* out) const;
    void apply_h(const double* v, double* out) const;

    // Pair i in chronological order (0 = oldest).
    const double* s(int i) const { return S_.data() + slot(i) * n_; }
    const double* y(int i) const { return Y_.data() + slot(i) * n_; }
    double sy(int i) const { return sy_[slot(i)]; }

private:
    int64_t slot(int i) const { return (head_ + i) % m_; }
    void gram(std::vector<double>& SS, std::vector<double>& SY, std::vector<double>& YY) const;

    int64_t n_;
    int m_;
    int count_ = 0;
    int head_ = 0;  // slot of the oldest pair
    int64_t pushed_ = 0;
    int64_t skipped_ = 0;
    DoubleBuffer S_, Y_;  // m x n each, on huge pages where possible
    std::vector<double> sy_, yy_;
    mutable std::mutex gram_mutex_;
    mutable bool gram_valid_ = false;
    mutable std::vector<double> SS_, SY_, YY_;  // Gram matrices, chronological order
};

double dot(const double* a, const double* b, int64_t n);

}  // namespace toposcape::optim
