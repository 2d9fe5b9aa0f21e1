// A large array of doubles backed by transparent huge pages where the kernel allows it.
//
// Krylov bases and L-BFGS memories are streamed end to end at every step; with 4 KiB pages a
// large basis pays seconds of page faults on first touch and TLB misses on every pass.
// madvise(MADV_HUGEPAGE) on a 2 MiB-aligned block (what NumPy does for large arrays) cuts both
// (figures: BENCHMARKS.md, "Notes moved from code comments").
#pragma once
#include <cstddef>
#include <cstdint>

namespace toposcape {

class DoubleBuffer {
public:
    DoubleBuffer() = default;
    explicit DoubleBuffer(size_t count, bool zero = true);
    ~DoubleBuffer();
    DoubleBuffer(const DoubleBuffer&) = delete;
    DoubleBuffer& operator=(const DoubleBuffer&) = delete;
    DoubleBuffer(DoubleBuffer&& other) noexcept;
    DoubleBuffer& operator=(DoubleBuffer&& other) noexcept;

    double* data() { return data_; }
    const double* data() const { return data_; }
    size_t size() const { return size_; }
    double& operator[](size_t i) { return data_[i]; }
    const double& operator[](size_t i) const { return data_[i]; }

private:
    double* data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace toposcape
