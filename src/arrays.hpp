// Helpers shared by the binding sources (private to src/): array argument checks and the
// conversions between the core's std::vectors and NumPy arrays. Every argument is checked here,
// at the boundary, so that the core only ever sees consistent sizes.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <type_traits>
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

// A short description of a Python argument for messages: "a complex128 array", "a str".
inline std::string shape_of(const py::array& a) { return py::str(a.attr("shape")); }

inline std::string describe(py::handle obj) {
    if (py::isinstance<py::array>(obj)) {
        const auto a = py::reinterpret_borrow<py::array>(obj);
        return "a " + std::string(py::str(a.dtype())) + " array of shape " + shape_of(a);
    }
    if (obj.is_none()) return "None";
    return std::string("a ") + Py_TYPE(obj.ptr())->tp_name;
}

// As describe(obj), with the dtype NumPy made of a non-array: "a list of complex128 values".
inline std::string describe(py::handle obj, const py::array& converted) {
    if (py::isinstance<py::array>(obj) || converted.ndim() == 0) return describe(obj);
    return describe(obj) + " of " + std::string(py::str(converted.dtype())) + " values";
}

// `obj` as a NumPy array (NumPy's asarray for lists, tuples and scalars); TypeError naming
// `fn` and `arg` when NumPy cannot make an array of it.
inline py::array as_array(py::handle obj, const char* fn, const char* arg, const char* expected) {
    if (py::isinstance<py::array>(obj)) return py::reinterpret_borrow<py::array>(obj);
    py::array arr = py::array::ensure(obj);
    if (!arr)
        throw py::type_error(std::string(fn) + ": " + arg + " must be " + expected + ", got " +
                             describe(obj));
    return arr;
}

// A real (integer or floating-point) array argument as a C-contiguous array of T (float64).
// pybind11's forcecast converts anything NumPy can cast, silently or with a mere
// ComplexWarning: complex, boolean, string, bytes and object arrays are refused here first
// (TypeError "<fn>: <arg> must be a real array, got a complex128 array ..."). Accepted
// dtypes convert exactly as before (the same NumPy cast).
template <typename T>
carray<T> real_array(py::handle obj, const char* fn, const char* arg) {
    static_assert(std::is_floating_point_v<T>, "real_array converts to a floating type");
    const char* expected = "a real (integer or floating-point) array";
    py::array arr = as_array(obj, fn, arg, expected);
    const char kind = arr.dtype().kind();
    if (kind != 'f' && kind != 'i' && kind != 'u')
        throw py::type_error(std::string(fn) + ": " + arg + " must be " + expected + ", got " +
                             describe(obj, arr));
    return carray<T>(arr);  // (NumPy's own error, a MemoryError, if the cast fails)
}

// An integer array argument as a C-contiguous array of T (int32 or int64): integer dtypes
// only (a float, boolean, complex, string or object array is a TypeError), and every entry
// must fit in T (ValueError) instead of wrapping around in the cast.
template <typename T>
carray<T> integer_array(py::handle obj, const char* fn, const char* arg) {
    static_assert(std::is_integral_v<T> && std::is_signed_v<T>, "signed integer targets only");
    const std::string expected = std::string("an integer array (") +
                                 (sizeof(T) == 4 ? "int32" : "int64") + " values)";
    py::array arr = as_array(obj, fn, arg, expected.c_str());
    const auto dt = arr.dtype();
    const char kind = dt.kind();
    if (kind != 'i' && kind != 'u')
        throw py::type_error(std::string(fn) + ": " + arg + " must be " + expected + ", got " +
                             describe(obj, arr));
    const auto size = static_cast<size_t>(dt.itemsize());
    const bool safe = (kind == 'i' && size <= sizeof(T)) || (kind == 'u' && size < sizeof(T));
    if (!safe) {
        // A narrowing cast (int64 -> int32, uint64 -> int64, ...) would wrap: check the values.
        auto out_of_range = [&](const std::string& value) {
            throw py::value_error(std::string(fn) + ": " + arg + " entries must fit in " +
                                  (sizeof(T) == 4 ? "int32" : "int64") + ", got " + value);
        };
        if (kind == 'u' && size == 8) {
            const carray<uint64_t> wide(arr);
            for (py::ssize_t i = 0; i < wide.size(); ++i)
                if (wide.data()[i] > static_cast<uint64_t>(std::numeric_limits<T>::max()))
                    out_of_range(std::to_string(wide.data()[i]));
        } else {
            const carray<int64_t> wide(arr);
            for (py::ssize_t i = 0; i < wide.size(); ++i) {
                const int64_t v = wide.data()[i];
                if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max())
                    out_of_range(std::to_string(v));
            }
        }
    }
    return carray<T>(arr);
}

// A mask argument as a C-contiguous uint8 array of 0 and 1: a boolean array, or an integer or
// floating-point array holding only 0 and 1 (ValueError for other values, which a uint8 cast
// would truncate or wrap: 0.5 -> 0, -1 -> 255); other dtypes are a TypeError.
inline carray<uint8_t> mask_array(py::handle obj, const char* fn, const char* arg) {
    const char* expected = "a boolean array (or one of only 0 and 1)";
    py::array arr = as_array(obj, fn, arg, expected);
    const char kind = arr.dtype().kind();
    if (kind != 'b' && kind != 'f' && kind != 'i' && kind != 'u')
        throw py::type_error(std::string(fn) + ": " + arg + " must be " + expected + ", got " +
                             describe(obj, arr));
    if (kind == 'u' && arr.dtype().itemsize() == 1) {  // (no copy for a uint8 view of bools)
        carray<uint8_t> out(arr);
        for (py::ssize_t i = 0; i < out.size(); ++i)
            if (out.data()[i] > 1)
                throw py::value_error(std::string(fn) + ": " + arg + " must be " + expected +
                                      ", got the value " + std::to_string(out.data()[i]));
        return out;
    }
    if (kind != 'b') {
        const carray<double> values(arr);
        for (py::ssize_t i = 0; i < values.size(); ++i) {
            const double v = values.data()[i];
            if (v != 0.0 && v != 1.0) {
                // (the original value, not its double rounding, for integers beyond 2**53)
                const py::object item = arr.attr("flat")[py::int_(i)];
                throw py::value_error(std::string(fn) + ": " + arg + " must be " + expected +
                                      ", got the value " + std::string(py::str(item)));
            }
        }
    }
    return carray<uint8_t>(arr);
}

// The data of a 1-D array of length n (ValueError naming `name` otherwise).
inline const double* vector_arg(const carray<double>& a, int64_t n, const char* name) {
    if (a.ndim() != 1 || a.shape(0) != n) {
        throw py::value_error(std::string(name) + " must be a 1-D float64 array of length " +
                              std::to_string(n) + ", got shape " + shape_of(a));
    }
    return a.data();
}

// `out` if given, else a new array. A given `out` must be a float64 ndarray (TypeError
// otherwise: a float32 array or a list would be converted to a temporary copy, written there
// and the caller's buffer silently left alone), writeable, C-contiguous and of length n
// (ValueError).
inline py::array_t<double> output_arg(py::object out, int64_t n, const char* fn) {
    if (out.is_none()) return py::array_t<double>(n);
    if (!py::isinstance<py::array>(out) || !py::array_t<double>::check_(out))
        throw py::type_error(std::string(fn) + ": out must be a float64 array (written in "
                             "place), got " + describe(out));
    auto arr = py::reinterpret_borrow<py::array_t<double>>(out);
    require(arr.ndim() == 1 && arr.shape(0) == n && arr.writeable() &&
                (arr.flags() & py::array::c_style),
            std::string(fn) + ": out must be a writeable contiguous float64 array of length " +
                std::to_string(n) + ", got " + describe(out) +
                (arr.writeable() ? "" : " (read-only)"));
    return arr;
}

// A copy of a 1-D float64 array, refusing NaN and inf.
inline std::vector<double> to_vector(const carray<double>& a, const char* name) {
    require(a.ndim() == 1,
            std::string(name) + " must be a 1-D float64 array, got shape " + shape_of(a));
    for (py::ssize_t i = 0; i < a.shape(0); ++i)
        require(std::isfinite(a.data()[i]), std::string(name) + " contains NaN or inf");
    return std::vector<double>(a.data(), a.data() + a.shape(0));
}

// MemoryError with `message` (a plain MemoryError, as Python raises: pybind11 would turn a
// std::bad_alloc into MemoryError "std::bad_alloc", which names no size).
[[noreturn]] inline void raise_memory_error(const std::string& message) {
    PyErr_SetString(PyExc_MemoryError, message.c_str());
    throw py::error_already_set();
}

// A double as Python's repr writes it (1e-20, 0.5, nan, inf), for messages.
inline std::string number(double x) { return py::repr(py::float_(x)); }

inline std::string gib(double bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f GiB", bytes / double(1 << 30));
    return text;
}

// Refuse up front an allocation of `bytes` larger than the machine's physical memory (it
// would either fail deep in the allocator or, when the kernel overcommits, be granted and
// kill the process on first touch): MemoryError "<what> needs X GiB, more than ...".
inline void check_physical_memory(double bytes, const std::string& what) {
    const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
    if (pages > 0 && page_size > 0) {
        const double physical = double(pages) * double(page_size);
        if (!(bytes <= physical))
            raise_memory_error(what + " needs " + gib(bytes) + ", more than this machine's " +
                               gib(physical) + " of physical memory");
    }
}

// One registration function per area of the core (src/<area>.cpp).
void bind_fem(py::module_& m);
void bind_optim(py::module_& m);
void bind_linalg(py::module_& m);
void bind_common(py::module_& m);

}  // namespace toposcape::bindings
