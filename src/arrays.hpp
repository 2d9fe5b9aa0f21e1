// Helpers shared by the binding sources (private to src/): array argument checks and the
// conversions between the core's std::vectors and NumPy arrays. Every argument is checked here,
// at the boundary, so that the core only ever sees consistent sizes.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace toposcape::bindings {

namespace py = pybind11;

template <typename T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

inline void require(bool ok, const std::string& message) {
    if (!ok) throw py::value_error(message);
}

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

// A (rows, cols) float64 array owning `v` (moved, not copied).
inline py::array_t<double> matrix_from(std::vector<double>&& v, py::ssize_t rows,
                                       py::ssize_t cols) {
    // An empty vector may have no data pointer, and NumPy would then allocate its own
    // buffer and never take ownership of the capsule.
    if (v.empty()) return py::array_t<double>({rows, cols});
    auto* owned = new std::vector<double>(std::move(v));
    py::capsule free_when_done(owned, [](void* p) { delete static_cast<std::vector<double>*>(p); });
    return py::array_t<double>({rows, cols}, owned->data(), free_when_done);
}

inline py::array_t<double> matrix_of(const std::vector<double>& v, py::ssize_t rows,
                                     py::ssize_t cols) {
    py::array_t<double> out({rows, cols});
    std::copy(v.begin(), v.end(), out.mutable_data());
    return out;
}

// The data of a 1-D float64 array of length n (ValueError naming `name` otherwise).
inline const double* vector_arg(const carray<double>& a, int64_t n, const char* name) {
    if (a.ndim() != 1 || a.shape(0) != n) {
        throw py::value_error(std::string(name) + " must be a 1-D float64 array of length " +
                              std::to_string(n));
    }
    return a.data();
}

// `out` if given (checked: writeable, contiguous, length n), else a new array.
inline py::array_t<double> output_arg(py::object out, int64_t n) {
    if (out.is_none()) return py::array_t<double>(n);
    auto arr = py::cast<py::array_t<double>>(out);
    require(arr.ndim() == 1 && arr.shape(0) == n && arr.writeable() &&
                (arr.flags() & py::array::c_style),
            "out must be a writeable contiguous float64 array of length " + std::to_string(n));
    return arr;
}

// A copy of a 1-D float64 array, refusing NaN and inf.
inline std::vector<double> to_vector(const carray<double>& a, const char* name) {
    require(a.ndim() == 1, std::string(name) + " must be a 1-D float64 array");
    for (py::ssize_t i = 0; i < a.shape(0); ++i)
        require(std::isfinite(a.data()[i]), std::string(name) + " contains NaN or inf");
    return std::vector<double>(a.data(), a.data() + a.shape(0));
}

// One registration function per area of the core (src/<area>.cpp).
void bind_fem(py::module_& m);
void bind_optim(py::module_& m);
void bind_linalg(py::module_& m);
void bind_common(py::module_& m);

}  // namespace toposcape::bindings
