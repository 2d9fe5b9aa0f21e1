#include "fem/assembly.hpp"

#include <limits>
#include <stdexcept>
#include <string>

#include "fem/grid.hpp"

namespace toposcape::fem {

StiffnessPattern build_stiffness_pattern(int64_t width, int64_t height,
                                         const int64_t* free_index, bool upper) {
    if (width < 1 || height < 1) {
        throw std::invalid_argument("grid width and height must be >= 1");
    }
    const int64_t n_nodes_x = width + 1;
    const int64_t n_nodes_y = height + 1;
    const int64_t n_dof = 2 * n_nodes_x * n_nodes_y;

    StiffnessPattern pattern;
    pattern.width = width;
    pattern.height = height;
    pattern.upper = upper;

    // Free DOFs in natural order: row r of K_ff belongs to the r-th free DOF.
    std::vector<int64_t> free_dofs;
    free_dofs.reserve(n_dof);
    int64_t last = -1;
    for (int64_t dof = 0; dof < n_dof; ++dof) {
        const int64_t f = free_index[dof];
        if (f < 0) continue;
        if (f != last + 1) {
            throw std::invalid_argument(
                "free_index must number the free DOFs 0, 1, 2, ... in DOF order");
        }
        last = f;
        free_dofs.push_back(dof);
    }
    pattern.n_free = static_cast<int64_t>(free_dofs.size());
    if (pattern.n_free == 0) throw std::invalid_argument("every DOF is fixed");

    // Rows: neighbours in (di, dj, d) lexicographic order have increasing DOF numbers, and
    // free indices increase with DOF numbers, so each row comes out sorted.
    pattern.indptr.assign(pattern.n_free + 1, 0);
    pattern.indices.reserve(static_cast<size_t>(pattern.n_free) * (upper ? 10 : 18));
    for (int64_t r = 0; r < pattern.n_free; ++r) {
        const int64_t dof = free_dofs[r];
        const int64_t node = dof / 2;
        const int64_t i = node / n_nodes_y;
        const int64_t j = node % n_nodes_y;
        for (int64_t di = -1; di <= 1; ++di) {
            const int64_t ii = i + di;
            if (ii < 0 || ii > width) continue;
            for (int64_t dj = -1; dj <= 1; ++dj) {
                const int64_t jj = j + dj;
                if (jj < 0 || jj > height) continue;
                for (int64_t d = 0; d < 2; ++d) {
                    const int64_t c = free_index[node_dof(height, ii, jj, d)];
                    if (c < 0 || (upper && c < r)) continue;
                    pattern.indices.push_back(static_cast<int32_t>(c));
                }
            }
        }
        const size_t nnz = pattern.indices.size();
        if (nnz > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
            throw std::invalid_argument("stiffness matrix too large for 32-bit indices");
        }
        pattern.indptr[r + 1] = static_cast<int32_t>(nnz);
    }

    // Scatter map: position of each element entry in the CSR data array.
    const int64_t n_elements = width * height;
    pattern.scatter.assign(static_cast<size_t>(n_elements) * 64, -1);
    int64_t dofs[8];
    int64_t rows[8];
    for (int64_t ey = 0; ey < height; ++ey) {
        for (int64_t ex = 0; ex < width; ++ex) {
            element_dofs(height, ey, ex, dofs);
            for (int a = 0; a < 8; ++a) rows[a] = free_index[dofs[a]];
            int64_t* out = pattern.scatter.data() + (ey * width + ex) * 64;
            for (int a = 0; a < 8; ++a) {
                const int64_t r = rows[a];
                if (r < 0) continue;
                const int32_t begin = pattern.indptr[r];
                const int32_t end = pattern.indptr[r + 1];
                for (int b = 0; b < 8; ++b) {
                    const int64_t c = rows[b];
                    if (c < 0 || (upper && c < r)) continue;
                    int32_t k = begin;
                    while (k < end && pattern.indices[k] != c) ++k;
                    if (k == end) throw std::logic_error("stiffness pattern misses an entry");
                    out[a * 8 + b] = k;
                }
            }
        }
    }
    return pattern;
}

void assemble_stiffness(const StiffnessPattern& pattern, const double* ke, const double* young,
                        double* data) {
    const size_t nnz = pattern.indices.size();
    for (size_t k = 0; k < nnz; ++k) data[k] = 0.0;
    const int64_t n_elements = pattern.width * pattern.height;
    const int64_t* map = pattern.scatter.data();
    for (int64_t e = 0; e < n_elements; ++e) {
        const double E = young[e];
        const int64_t* m = map + e * 64;
        for (int k = 0; k < 64; ++k) {
            const int64_t pos = m[k];
            if (pos >= 0) data[pos] += E * ke[k];
        }
    }
}

}  // namespace toposcape::fem
