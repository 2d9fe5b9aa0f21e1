#include "fem/filter.hpp"

#include <cmath>
#include <stdexcept>

namespace toposcape::fem {

CsrMatrix cone_filter(int64_t height, int64_t width, const uint8_t* mask, double radius) {
    if (height < 1 || width < 1) throw std::invalid_argument("grid must be at least 1x1");
    if (!(radius > 0.0) || !std::isfinite(radius)) {
        throw std::invalid_argument("filter radius must be positive and finite");
    }
    // Offsets with a positive weight (distance < radius), in increasing (dy, dx) order so that
    // every row's column indices come out sorted.
    struct Offset { int64_t dy, dx; double w; };
    std::vector<Offset> offsets;
    const int64_t span = static_cast<int64_t>(std::ceil(radius));
    for (int64_t dy = -span; dy <= span; ++dy) {
        for (int64_t dx = -span; dx <= span; ++dx) {
            const double w = radius - std::sqrt(static_cast<double>(dx * dx + dy * dy));
            if (w > 0.0) offsets.push_back({dy, dx, w});
        }
    }

    const int64_t n = height * width;
    CsrMatrix F;
    F.n_rows = n;
    F.n_cols = n;
    F.indptr.assign(n + 1, 0);
    F.indices.reserve(static_cast<size_t>(n) * offsets.size());
    F.data.reserve(static_cast<size_t>(n) * offsets.size());
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
