// Stiffness assembly straight into CSR through a scatter map built once per problem.
//
// The sparsity pattern of the free-DOF stiffness matrix K_ff of a structured grid is known
// in closed form (a DOF couples to both components of the 3x3 block of nodes around it), so
// it is generated row by row, already sorted, with no COO sort. The scatter map records, for
// every element and every one of its 64 local entries, the position of that entry in the CSR
// data array (or -1 when the entry touches a fixed DOF or, for an upper-triangular pattern,
// lies below the diagonal). Numeric assembly is then one pass of fused multiply-adds.
#pragma once
#include <cstdint>
#include <vector>

namespace toposcape::fem {

struct StiffnessPattern {
    int64_t width = 0;
    int64_t height = 0;
    int64_t n_free = 0;
    bool upper = false;              // only the upper triangle (col >= row) is stored
    std::vector<int32_t> indptr;     // n_free + 1
    std::vector<int32_t> indices;    // nnz, sorted within each row
    std::vector<int64_t> scatter;    // n_elements * 64, row-major local entry (a, b) -> a*8+b
};

// Build the pattern of K_ff. `free_index` has one entry per DOF, 2 (W+1)(H+1) in all: the
// position of that DOF among the free DOFs, or -1 when it is fixed. Free indices must be
// increasing with the DOF number (free DOFs kept in their natural order).
// Throws std::invalid_argument on inconsistent input.
StiffnessPattern build_stiffness_pattern(int64_t width, int64_t height,
                                         const int64_t* free_index, bool upper);

// data[:] = sum_e young[e] * KE scattered through the pattern's map. `ke` is the 8x8 element
// matrix in row-major order; `young` has W*H entries (C order of (H, W)); `data` has nnz entries.
void assemble_stiffness(const StiffnessPattern& pattern, const double* ke, const double* young,
                        double* data);

}  // namespace toposcape::fem
