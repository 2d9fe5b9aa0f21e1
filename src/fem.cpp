// Bindings of cpp/fem: the stiffness pattern and its assembly, the cone filter, the CSR
// residual.
//
// A StiffnessPattern is immutable once built (read-only views, assembly reads it), so Python
// threads may share one without a lock.
#include <pybind11/stl.h>

#include <memory>
#include <string>

#include "arrays.hpp"
#include "fem/assembly.hpp"
#include "fem/filter.hpp"

namespace toposcape::bindings {
namespace {

using fem::StiffnessPattern;

std::shared_ptr<StiffnessPattern> make_pattern(int64_t width, int64_t height,
                                               const carray<int64_t>& free_index, bool upper) {
    require(width >= 1 && height >= 1, "width and height must be >= 1");
    const int64_t n_dof = 2 * (width + 1) * (height + 1);
    require(free_index.ndim() == 1 && free_index.shape(0) == n_dof,
            "free_index must be a 1-D array of length 2*(width+1)*(height+1) = " +
                std::to_string(n_dof));
    const int64_t* f = free_index.data();
    for (int64_t k = 0; k < n_dof; ++k) {
        require(f[k] >= -1 && f[k] < n_dof, "free_index entries must lie in [-1, n_dof)");
    }
    StiffnessPattern pattern;
    {
        py::gil_scoped_release release;
        pattern = fem::build_stiffness_pattern(width, height, f, upper);
    }
    return std::make_shared<StiffnessPattern>(std::move(pattern));
}

py::array_t<double> assemble(const StiffnessPattern& pattern, const carray<double>& ke,
                             const carray<double>& young, py::object out_obj) {
    require(ke.ndim() == 2 && ke.shape(0) == 8 && ke.shape(1) == 8,
            "element matrix must have shape (8, 8)");
    const int64_t n_elements = pattern.width * pattern.height;
    require(young.ndim() == 1 && young.shape(0) == n_elements,
            "young must be a 1-D array with one modulus per element (" +
                std::to_string(n_elements) + ")");
    const auto nnz = static_cast<py::ssize_t>(pattern.indices.size());
    py::array_t<double> out;
    if (out_obj.is_none()) {
        out = py::array_t<double>(nnz);
    } else {
        out = py::cast<py::array_t<double>>(out_obj);
        require(out.ndim() == 1 && out.shape(0) == nnz && out.writeable() &&
                    (out.flags() & py::array::c_style),
                "out must be a writeable contiguous float64 array of length nnz = " +
                    std::to_string(nnz));
    }
    double* data = out.mutable_data();
    const double* ke_ptr = ke.data();
    const double* young_ptr = young.data();
    {
        py::gil_scoped_release release;
        fem::assemble_stiffness(pattern, ke_ptr, young_ptr, data);
    }
    return out;
}

py::tuple cone_filter(const carray<uint8_t>& mask, double radius) {
    require(mask.ndim() == 2, "mask must be a 2-D array of shape (height, width)");
    require(radius > 0.0 && std::isfinite(radius), "filter radius must be positive and finite");
    fem::CsrMatrix F;
    const int64_t height = mask.shape(0), width = mask.shape(1);
    require(height >= 1 && width >= 1, "mask must be at least 1x1");
    const uint8_t* m = mask.data();
    {
        py::gil_scoped_release release;
        F = fem::cone_filter(height, width, m, radius);
    }
    return py::make_tuple(copy_of(F.indptr), copy_of(F.indices), copy_of(F.data));
}

py::array_t<double> csr_residual(const carray<int32_t>& indptr, const carray<int32_t>& indices,
                                 const carray<double>& data, const carray<double>& x,
                                 const carray<double>& b, bool upper) {
    const int64_t n = b.shape(0);
    require(indptr.ndim() == 1 && indptr.shape(0) == n + 1 && x.shape(0) == n &&
                b.ndim() == 1 && x.ndim() == 1,
            "csr_residual: inconsistent sizes");
    const int32_t* ip = indptr.data();
    const int32_t* ix = indices.data();
    const double* a = data.data();
    const double* xp = x.data();
    const double* bp = b.data();
    require(indices.shape(0) >= ip[n] && data.shape(0) >= ip[n],
            "csr_residual: pattern longer than its arrays");
    for (int64_t r = 0; r < n; ++r) {
        require(ip[r] <= ip[r + 1], "csr_residual: indptr must be non-decreasing");
    }
    py::array_t<double> out(n);
    double* rp = out.mutable_data();
    {
        py::gil_scoped_release release;
        for (int64_t r = 0; r < n; ++r) rp[r] = bp[r];
        for (int64_t r = 0; r < n; ++r) {
            double acc = 0.0;
            for (int32_t k = ip[r]; k < ip[r + 1]; ++k) {
                const int32_t c = ix[k];
                if (c < 0 || c >= n) continue;
                acc += a[k] * xp[c];
                // The upper triangle stands for both triangles: mirror off-diagonals.
                if (upper && c != r) rp[c] -= a[k] * xp[r];
            }
            rp[r] -= acc;
        }
    }
    return out;
}

}  // namespace

void bind_fem(py::module_& m) {
    py::class_<StiffnessPattern, std::shared_ptr<StiffnessPattern>>(
        m, "StiffnessPattern",
        "CSR sparsity pattern of the free-DOF stiffness matrix and its element scatter map.")
        .def_property_readonly("width", [](const StiffnessPattern& p) { return p.width; })
        .def_property_readonly("height", [](const StiffnessPattern& p) { return p.height; })
        .def_property_readonly("n_free", [](const StiffnessPattern& p) { return p.n_free; })
        .def_property_readonly("upper", [](const StiffnessPattern& p) { return p.upper; })
        .def_property_readonly("nnz",
                               [](const StiffnessPattern& p) { return p.indices.size(); })
        .def_property_readonly(
            "indptr", [](py::object self) {
                return view_of(self.cast<const StiffnessPattern&>().indptr, self);
            },
            "int32 (n_free + 1,) CSR row pointers (read-only view)")
        .def_property_readonly(
            "indices", [](py::object self) {
                return view_of(self.cast<const StiffnessPattern&>().indices, self);
            },
            "int32 (nnz,) CSR column indices, sorted within rows (read-only view)")
        .def_property_readonly(
            "scatter", [](py::object self) {
                return view_of(self.cast<const StiffnessPattern&>().scatter, self);
            },
            "int64 (n_elements * 64,) position of each element entry in the data array, or -1")
        .def("assemble", &assemble, py::arg("ke"), py::arg("young"), py::arg("out") = py::none(),
             "CSR data of K = sum_e young[e] KE_e over the pattern. ke: (8, 8); young: "
             "(W*H,) in C order of (H, W); out: optional (nnz,) float64 buffer reused.");

    m.def("build_stiffness_pattern", &make_pattern, py::arg("width"), py::arg("height"),
          py::arg("free_index"), py::arg("upper"),
          "Build the CSR pattern of K_ff and its scatter map for a width x height grid. "
          "free_index: int64 (2*(W+1)*(H+1),), the free position of each DOF or -1 if fixed.");

    m.def("csr_residual", &csr_residual, py::arg("indptr"), py::arg("indices"), py::arg("data"),
          py::arg("x"), py::arg("b"), py::arg("upper"),
          "Residual b - K x for K in CSR (upper=True: only the upper triangle is stored), in "
          "one pass.");

    m.def("cone_filter", &cone_filter, py::arg("mask"), py::arg("radius"),
          "Cone filter F = diag(1/colsum(R)) R over an (H, W) grid in C order; returns "
          "(indptr int64, indices int32, data float64) of the CSR matrix.");
}

}  // namespace toposcape::bindings
