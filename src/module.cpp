// The extension module toposcape._core: one flat namespace, filled area by area.
#include "arrays.hpp"

PYBIND11_MODULE(_core, m) {
    m.doc() =
        "toposcape's compiled core: structured-grid FE assembly, the cone filter, the L-BFGS "
        "memory and line searches.";
    toposcape::bindings::bind_fem(m);
    toposcape::bindings::bind_optim(m);
    toposcape::bindings::bind_linalg(m);
    toposcape::bindings::bind_common(m);
}
