// pybind11 bindings of the C++ core: thin, typed, validating every array at the boundary.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>

#include "fem/assembly.hpp"
#include "fem/filter.hpp"

namespace py = pybind11;
using toposcape::fem::StiffnessPattern;

namespace {

template <typename T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

// A read-only NumPy view of a vector owned by `owner` (kept alive by the view).
template <typename T>
py::array_t<T> view_of(const std::vector<T>& v, py::handle owner) {
    py::array_t<T> out({static_cast<py::ssize_t>(v.size())}, {static_cast<py::ssize_t>(sizeof(T))},
                       v.data(), owner);
    py::detail::array_proxy(out.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
    return out;
}

template <typename T>
py::array_t<T> copy_of(const std::vector<T>& v) {
    py::array_t<T> out(static_cast<py::ssize_t>(v.size()));
    std::copy(v.begin(), v.end(), out.mutable_data());
    return out;
}

void require(bool ok, const std::string& message) {
    if (!ok) throw py::value_error(message);
}

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
        pattern = toposcape::fem::build_stiffness_pattern(width, height, f, upper);
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
        toposcape::fem::assemble_stiffness(pattern, ke_ptr, young_ptr, data);
    }
    return out;
}

py::tuple cone_filter(const carray<uint8_t>& mask, double radius) {
    require(mask.ndim() == 2, "mask must be a 2-D array of shape (height, width)");
    require(radius > 0.0 && std::isfinite(radius), "filter radius must be positive and finite");
    toposcape::fem::CsrMatrix F;
    const int64_t height = mask.shape(0), width = mask.shape(1);
    require(height >= 1 && width >= 1, "mask must be at least 1x1");
    const uint8_t* m = mask.data();
    {
        py::gil_scoped_release release;
        F = toposcape::fem::cone_filter(height, width, m, radius);
    }
    return py::make_tuple(copy_of(F.indptr), copy_of(F.indices), copy_of(F.data));
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "toposcape's compiled core: structured-grid FE assembly and the cone filter.";

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
    m.def("cone_filter", &cone_filter, py::arg("mask"), py::arg("radius"),
          "Cone filter F = diag(1/colsum(R)) R over an (H, W) grid in C order; returns "
          "(indptr int64, indices int32, data float64) of the CSR matrix.");
}
