#include "fem/filter.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace toposcape::fem {

CsrMatrix cone_filter(int64_t height, int64_t width, const uint8_t* mask, double radius) {
    if (height < 1 || width < 1) throw std::invalid_argument("grid must be at least 1x1");
    if (!(radius > 0.0) || !std::isfinite(radius)) {
        throw std::invalid_argument("filter radius must be positive and finite");
    }
    // Offsets with a positive weight (distance < radius), in increasing (dy, dx) order so that
    // every row's column indices come out sorted.
    // Offsets that reach outside the grid from every cell are left out: they add no entry,
    // and a radius far beyond the grid would otherwise make the loop (and the reservation
    // below) huge, or overflow int64 for ceil(radius).
    struct Offset { int64_t dy, dx; double w; };
    std::vector<Offset> offsets;
    const double span = std::ceil(radius);
    const int64_t span_y = span >= double(height - 1) ? height - 1 : static_cast<int64_t>(span);
    const int64_t span_x = span >= double(width - 1) ? width - 1 : static_cast<int64_t>(span);
    // With weights near the largest double the column sums would overflow: the weights are
    // then divided by the radius, which leaves F unchanged (its rows are normalised).
    const double max_sum = radius * double(2 * span_y + 1) * double(2 * span_x + 1);
    const bool scaled = !(max_sum <= std::numeric_limits<double>::max());
    for (int64_t dy = -span_y; dy <= span_y; ++dy) {
        for (int64_t dx = -span_x; dx <= span_x; ++dx) {
            const double d = std::sqrt(static_cast<double>(dx * dx + dy * dy));
            const double w = scaled ? 1.0 - d / radius : radius - d;
            if (w > 0.0) offsets.push_back({dy, dx, w});
        }
    }

    const int64_t n = height * width;
    CsrMatrix F;
    F.n_rows = n;
    F.n_cols = n;
    F.indptr.assign(n + 1, 0);
    // Room for a full stencil per designable cell (each row has at most n entries).
    int64_t designable = 0;
    for (int64_t i = 0; i < n; ++i) designable += mask[i] != 0;
    const size_t capacity = static_cast<size_t>(designable) *
                            std::min(offsets.size(), static_cast<size_t>(n));
    F.indices.reserve(capacity);
    F.data.reserve(capacity);
    std::vector<double> column_sum(n, 0.0);
    for (int64_t y = 0; y < height; ++y) {
        for (int64_t x = 0; x < width; ++x) {
            const int64_t row = y * width + x;
            if (mask[row]) {
                for (const Offset& o : offsets) {
                    const int64_t yy = y + o.dy, xx = x + o.dx;
                    if (yy < 0 || yy >= height || xx < 0 || xx >= width) continue;
                    const int64_t col = yy * width + xx;
                    F.indices.push_back(static_cast<int32_t>(col));
                    F.data.push_back(o.w);
                    column_sum[col] += o.w;
                }
            }
            F.indptr[row + 1] = static_cast<int64_t>(F.indices.size());
        }
    }
    for (int64_t row = 0; row < n; ++row) {
        for (int64_t k = F.indptr[row]; k < F.indptr[row + 1]; ++k) {
            F.data[k] /= column_sum[row];
        }
    }
    return F;
}

}  // namespace toposcape::fem
