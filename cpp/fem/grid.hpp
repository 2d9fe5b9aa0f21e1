// Structured-grid numbering of the 88-line MATLAB code (see shared/specs/physics.md).
//
// Nodes (i, j), i in [0, W] along x, j in [0, H] along y (j = 0 is the top edge).
// DOF of node (i, j), component d: 2 * (i * (H + 1) + j) + d.
// Elements are numbered in C order of the (H, W) density array: e = ey * W + ex.
#pragma once
#include <cstdint>

namespace toposcape::fem {

inline int64_t node_dof(int64_t height, int64_t i, int64_t j, int64_t d) {
    return 2 * (i * (height + 1) + j) + d;
}

// The eight DOFs of element (ey, ex), in the local order of the element matrix KE:
// n1 = (H+1) ex + ey, n2 = (H+1)(ex+1) + ey, n3 = n2 + 1, n4 = n1 + 1,
// dofs = [2n1, 2n1+1, 2n2, 2n2+1, 2n3, 2n3+1, 2n4, 2n4+1].
inline void element_dofs(int64_t height, int64_t ey, int64_t ex, int64_t out[8]) {
    const int64_t n1 = (height + 1) * ex + ey;
    const int64_t n2 = (height + 1) * (ex + 1) + ey;
    const int64_t nodes[4] = {n1, n2, n2 + 1, n1 + 1};
    for (int k = 0; k < 4; ++k) {
        out[2 * k] = 2 * nodes[k];
        out[2 * k + 1] = 2 * nodes[k] + 1;
    }
}

}  // namespace toposcape::fem
