#include "common/buffer.hpp"

#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace toposcape {
namespace {
constexpr size_t kHugePage = size_t(2) << 20;
}

DoubleBuffer::DoubleBuffer(size_t count, bool zero) : size_(count) {
    if (count == 0) return;
    const size_t bytes = count * sizeof(double);
    if (bytes >= kHugePage) {
        const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
        data_ = static_cast<double*>(std::aligned_alloc(kHugePage, rounded));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
        if (data_) madvise(data_, rounded, MADV_HUGEPAGE);  // advice only: failure is harmless
#endif
    } else {
        data_ = static_cast<double*>(std::malloc(bytes));
    }
    if (!data_) throw std::bad_alloc();
    if (zero) std::memset(data_, 0, bytes);
}

DoubleBuffer::~DoubleBuffer() { std::free(data_); }

DoubleBuffer::DoubleBuffer(DoubleBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

DoubleBuffer& DoubleBuffer::operator=(DoubleBuffer&& other) noexcept {
    if (this != &other) {
        std::free(data_);
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

}  // namespace toposcape
