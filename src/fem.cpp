// Bindings of cpp/fem: the stiffness pattern and its assembly, the cone filter, the CSR
// residual.
//
// A StiffnessPattern is immutable once built (read-only views, assembly reads it), so Python
// threads may share one without a lock.
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <new>
#include <string>

#include "arrays.hpp"
#include "fem/assembly.hpp"
#include "fem/filter.hpp"

namespace toposcape::bindings {
namespace {

using fem::StiffnessPattern;

std::shared_ptr<StiffnessPattern> make_pattern(int64_t width, int64_t height,
                                               py::handle free_index_obj, bool upper) {
    require(width >= 1 && height >= 1, "width and height must be >= 1");
    // (int32 CSR indices; also keeps 2 (width + 1) (height + 1) from overflowing int64)
    require(2.0 * (double(width) + 1.0) * (double(height) + 1.0) <=
                double(std::numeric_limits<int32_t>::max()),
            "build_stiffness_pattern: the grid must have at most 2**31 - 1 degrees of freedom "
            "(int32 indices), got width " + std::to_string(width) + " and height " +
                std::to_string(height));
    const auto free_index =
        integer_array<int64_t>(free_index_obj, "build_stiffness_pattern", "free_index");
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

py::array_t<double> assemble(const StiffnessPattern& pattern, py::handle ke_obj,
                             py::handle young_obj, py::object out_obj) {
    const auto ke = real_array<double>(ke_obj, "StiffnessPattern.assemble", "ke");
    const auto young = real_array<double>(young_obj, "StiffnessPattern.assemble", "young");
    require(ke.ndim() == 2 && ke.shape(0) == 8 && ke.shape(1) == 8,
            "element matrix must have shape (8, 8)");
    const int64_t n_elements = pattern.width * pattern.height;
    require(young.ndim() == 1 && young.shape(0) == n_elements,
            "young must be a 1-D array with one modulus per element (" +
                std::to_string(n_elements) + ")");
    const auto nnz = static_cast<py::ssize_t>(pattern.indices.size());
    auto out = output_arg(out_obj, nnz, "StiffnessPattern.assemble");
    double* data = out.mutable_data();
    const double* ke_ptr = ke.data();
    const double* young_ptr = young.data();
    {
        py::gil_scoped_release release;
        fem::assemble_stiffness(pattern, ke_ptr, young_ptr, data);
    }
    return out;
}

py::tuple cone_filter(py::handle mask_obj, double radius) {
    const auto mask = mask_array(mask_obj, "cone_filter", "mask");
    require(mask.ndim() == 2,
            "cone_filter: mask must be a 2-D array of shape (height, width), got shape " +
                shape_of(mask));
    require(radius > 0.0 && std::isfinite(radius),
            "cone_filter: radius must be positive and finite, got " + number(radius));
    const int64_t height = mask.shape(0), width = mask.shape(1);
    require(height >= 1 && width >= 1, "cone_filter: mask must be at least 1x1, got shape " +
                                           shape_of(mask));
    const int64_t n = height * width;
    require(n <= std::numeric_limits<int32_t>::max(),
            "cone_filter: the grid must have at most 2**31 - 1 cells (int32 column indices), "
            "got " + std::to_string(height) + " x " + std::to_string(width));
    const uint8_t* m = mask.data();
    // The size of what the core builds, before it allocates: its stencil (the offsets with
    // |offset| < radius that fit in the grid: at most the grid's (2H - 1) x (2W - 1) offsets
    // and pi (radius + 1.5)^2), the filter's entries (at most that many per designable cell,
    // and at most n), their copies handed back, and the per-cell arrays.
    int64_t designable = 0;
    for (int64_t i = 0; i < n; ++i) designable += m[i] != 0;
    const double square = (2.0 * std::min<double>(std::ceil(radius), double(height - 1)) + 1.0) *
                          (2.0 * std::min<double>(std::ceil(radius), double(width - 1)) + 1.0);
    const double disc = 3.141592653589793 * std::pow(std::min(radius, 1e100) + 1.5, 2.0);
    const double offsets = std::min(square, disc);
    const double entries = double(designable) * std::min(offsets, double(n));
    const double bytes = 24.0 * offsets + 2.0 * 12.0 * entries + 24.0 * double(n);
    char what[160];
    std::snprintf(what, sizeof what, "cone_filter(radius=%g) on a %lld x %lld grid", radius,
                  static_cast<long long>(height), static_cast<long long>(width));
    check_physical_memory(bytes, what);
    fem::CsrMatrix F;
    try {
        py::gil_scoped_release release;
        F = fem::cone_filter(height, width, m, radius);
    } catch (const std::bad_alloc&) {
        raise_memory_error(std::string(what) + " needs up to " + gib(bytes) +
                           ": the allocation failed");
    }
    return py::make_tuple(copy_of(F.indptr), copy_of(F.indices), copy_of(F.data));
}

py::array_t<double> csr_residual(py::handle indptr_obj, py::handle indices_obj,
                                 py::handle data_obj, py::handle x_obj, py::handle b_obj,
                                 bool upper) {
    const char* fn = "csr_residual";
    const auto indptr = integer_array<int32_t>(indptr_obj, fn, "indptr");
    const auto indices = integer_array<int32_t>(indices_obj, fn, "indices");
    const auto data = real_array<double>(data_obj, fn, "data");
    const auto x = real_array<double>(x_obj, fn, "x");
    const auto b = real_array<double>(b_obj, fn, "b");
    require(b.ndim() == 1 && x.ndim() == 1 && indptr.ndim() == 1 && indices.ndim() == 1 &&
                data.ndim() == 1,
            "csr_residual: inconsistent sizes: indptr, indices, data, x and b must be 1-D, got "
            "shapes " + shape_of(indptr) + ", " + shape_of(indices) + ", " + shape_of(data) +
                ", " + shape_of(x) + ", " + shape_of(b));
    const int64_t n = b.shape(0);
    require(indptr.shape(0) == n + 1 && x.shape(0) == n,
            "csr_residual: inconsistent sizes: indptr must have len(b) + 1 = " +
                std::to_string(n + 1) + " entries and x len(b) = " + std::to_string(n) +
                ", got " + std::to_string(indptr.shape(0)) + " and " +
                std::to_string(x.shape(0)));
    const int32_t* ip = indptr.data();
    const int32_t* ix = indices.data();
    const double* a = data.data();
    const double* xp = x.data();
    const double* bp = b.data();
    // indptr[0] >= 0, non-decreasing, and indptr[n] within indices and data: every row's
    // range then lies inside both arrays.
    require(ip[0] >= 0, "csr_residual: indptr must be non-negative, got indptr[0] = " +
                            std::to_string(ip[0]));
    for (int64_t r = 0; r < n; ++r) {
        require(ip[r] <= ip[r + 1], "csr_residual: indptr must be non-decreasing");
    }
    require(indices.shape(0) >= ip[n] && data.shape(0) >= ip[n],
            "csr_residual: pattern longer than its arrays");
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
