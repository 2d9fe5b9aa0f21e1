// Bindings of cpp/common: the core's thread count and the level-1 kernels Python's optimizer
// loops call on long vectors.
#include <cmath>
#include <string>
#include <vector>

#include "arrays.hpp"
#include "common/level1.hpp"
#include "common/parallel.hpp"

namespace toposcape::bindings {

void bind_common(py::module_& m) {
    m.def("get_num_threads", &toposcape::num_threads,
          "Threads of the core's memory-bound passes (two-loop, reorthogonalization).");
    m.def(
        "set_num_threads",
        [](int n) { toposcape::set_num_threads(n); },
        py::arg("n"),
        "Set the core's thread count; n <= 0 restores the default (TOPOSCAPE_NUM_THREADS, "
        "else the number of processors, 1 to 8). Independent of torch's and MKL's.");

    m.def(
        "step_point",
        [](py::handle base_obj, double step, py::handle d_obj) {
            const auto base = real_array<double>(base_obj, "step_point", "base");
            const auto d = real_array<double>(d_obj, "step_point", "d");
            require(base.ndim() == 1 && d.ndim() == 1 && base.shape(0) == d.shape(0),
                    "step_point needs two 1-D arrays of equal length");
            const int64_t n = base.shape(0);
            py::array_t<double> out(n);
            const double* bp = base.data();
            const double* dp = d.data();
            double* op = out.mutable_data();
            py::gil_scoped_release release;
            toposcape::step_point_threaded(bp, step, dp, op, n);
            return out;
        },
        py::arg("base"), py::arg("step"), py::arg("d"),
        "base + step * d as a new array, in one pass (threaded for long vectors)");
    m.def(
        "step_point_distance",
        [](py::handle base_obj, double step, py::handle d_obj, py::handle ref_obj) {
            const char* fn = "step_point_distance";
            const auto base = real_array<double>(base_obj, fn, "base");
            const auto d = real_array<double>(d_obj, fn, "d");
            const auto ref = real_array<double>(ref_obj, fn, "ref");
            require(base.ndim() == 1 && d.ndim() == 1 && ref.ndim() == 1 &&
                        base.shape(0) == d.shape(0) && base.shape(0) == ref.shape(0),
                    "step_point_distance needs three 1-D arrays of equal length");
            const int64_t n = base.shape(0);
            py::array_t<double> out(n);
            const double* bp = base.data();
            const double* dp = d.data();
            const double* rp = ref.data();
            double* op = out.mutable_data();
            double dist2;
            {
                py::gil_scoped_release release;
                dist2 = toposcape::step_point_distance_threaded(bp, step, dp, rp, op, n);
            }
            return py::make_tuple(out, std::sqrt(dist2));
        },
        py::arg("base"), py::arg("step"), py::arg("d"), py::arg("ref"),
        "(point, ||point - ref||) with point = base + step * d, in one pass; the same numbers "
        "as step_point and distance");
    m.def(
        "dot_and_norm",
        [](py::handle a_obj, py::handle b_obj) {
            const auto a = real_array<double>(a_obj, "dot_and_norm", "a");
            const auto b = real_array<double>(b_obj, "dot_and_norm", "b");
            require(a.ndim() == 1 && b.ndim() == 1 && a.shape(0) == b.shape(0),
                    "dot_and_norm needs two 1-D arrays of equal length");
            const double* ap = a.data();
            const double* bp = b.data();
            const int64_t n = a.shape(0);
            double ab, aa;
            {
                py::gil_scoped_release release;
                toposcape::dot_and_square_threaded(ap, bp, n, &ab, &aa);
            }
            return py::make_tuple(ab, std::sqrt(aa));
        },
        py::arg("a"), py::arg("b"),
        "(a . b, ||a||) in one pass; the same numbers as dot(a, b) and sqrt(dot(a, a))");
    m.def(
        "gather_finite",
        [](py::sequence pieces_obj, py::handle out_obj) {
            const std::string fn = "gather_finite: ";
            auto type_check = [](bool ok, const std::string& message) {
                if (!ok) throw py::type_error(message);
            };
            type_check(py::isinstance<py::array>(out_obj),
                       fn + "out must be a float64 array, got " + describe(out_obj));
            auto out = py::reinterpret_borrow<py::array>(out_obj);
            type_check(out.dtype().equal(py::dtype::of<double>()),
                       fn + "out must be a float64 array, got " + describe(out_obj));
            require(out.ndim() == 1 && (out.flags() & py::array::c_style) && out.writeable(),
                    fn + "out must be a writable, contiguous 1-D array");
            std::vector<py::array> keep;  // alive while the GIL is released
            std::vector<toposcape::GatherPiece> pieces;
            int64_t total = 0;
            for (py::handle item : pieces_obj) {
                type_check(py::isinstance<py::array>(item),
                           fn + "pieces must be NumPy arrays, got " + describe(item));
                auto a = py::reinterpret_borrow<py::array>(item);
                const bool single = a.dtype().equal(py::dtype::of<float>());
                type_check(single || a.dtype().equal(py::dtype::of<double>()),
                           fn + "pieces must be float32 or float64 arrays, got " + describe(item));
                require(a.flags() & py::array::c_style,
                        fn + "pieces must be C-contiguous, got a strided view");
                pieces.push_back({a.data(), static_cast<int64_t>(a.size()), single});
                total += a.size();
                keep.push_back(std::move(a));
            }
            require(total == out.shape(0), fn + "the pieces hold " + std::to_string(total) +
                                               " entries, out has " +
                                               std::to_string(out.shape(0)));
            double* op = static_cast<double*>(out.mutable_data());
            py::gil_scoped_release release;
            return toposcape::gather_finite_threaded(pieces.data(),
                                                     static_cast<int64_t>(pieces.size()), op);
        },
        py::arg("pieces"), py::arg("out"),
        "Concatenate float32/float64 arrays into out (float64, their total length) in one "
        "threaded pass, the floats converted exactly; returns whether every entry is finite.");
    m.def(
        "distance",
        [](py::handle a_obj, py::handle b_obj) {
            const auto a = real_array<double>(a_obj, "distance", "a");
            const auto b = real_array<double>(b_obj, "distance", "b");
            require(a.ndim() == 1 && b.ndim() == 1 && a.shape(0) == b.shape(0),
                    "distance needs two 1-D arrays of equal length");
            const double* ap = a.data();
            const double* bp = b.data();
            const int64_t n = a.shape(0);
            py::gil_scoped_release release;
            return std::sqrt(toposcape::distance_squared_threaded(ap, bp, n));
        },
        py::arg("a"), py::arg("b"), "||a - b|| in one pass (threaded for long vectors)");
    m.def(
        "dot",
        [](py::handle a_obj, py::handle b_obj) {
            const auto a = real_array<double>(a_obj, "dot", "a");
            const auto b = real_array<double>(b_obj, "dot", "b");
            require(a.ndim() == 1 && b.ndim() == 1 && a.shape(0) == b.shape(0),
                    "dot needs two 1-D arrays of equal length");
            const double* ap = a.data();
            const double* bp = b.data();
            const int64_t n = a.shape(0);
            py::gil_scoped_release release;
            return toposcape::dot_threaded(ap, bp, n);
        },
        py::arg("a"), py::arg("b"),
        "Dot product of two float64 vectors on the core's threads for long vectors (partial "
        "sums added in thread order: deterministic for a thread count), serial below "
        "131,072 entries; not NumPy's BLAS, whose own thread pool would contend with torch's.");
}

}  // namespace toposcape::bindings
