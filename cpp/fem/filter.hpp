// The cone (density) filter of the benchmark formulation (shared/specs/physics.md).
#pragma once
#include <cstdint>
#include <vector>

namespace toposcape::fem {

struct CsrMatrix {
    int64_t n_rows = 0;
    int64_t n_cols = 0;
    std::vector<int64_t> indptr;
    std::vector<int32_t> indices;
    std::vector<double> data;
};

// F = diag(1/s) R over the cells of an (H, W) grid numbered in C order (y * W + x).
// R_ij = max(0, radius - |c_i - c_j|) for designable cells i (mask[i] != 0) and any cell j of
// the grid; rows of non-designable cells are empty; s_i is the column sum sum_k R_ki.
// (For a full mask R is symmetric and this is the usual normalised density filter; with a
// mask, column-sum normalisation is the reference's behaviour.)
CsrMatrix cone_filter(int64_t height, int64_t width, const uint8_t* mask, double radius);

}  // namespace toposcape::fem
