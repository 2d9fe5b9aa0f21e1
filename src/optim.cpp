// Bindings of cpp/optim: the L-BFGS memory and the reverse-communication line searches.
//
// Thread safety. Python threads (Dask workers run tasks in threads) may share these objects.
// LbfgsMemory releases the GIL around its passes (milliseconds each at 10^5-10^6 unknowns)
// and locks itself (cpp/optim/lbfgs.hpp), so every method here that touches its state
// releases the GIL first and lets the core take its lock: a thread waiting for a push never
// holds the GIL, and the core never waits for the GIL while holding its lock. The line
// searches are microsecond state machines: their methods keep the GIL for the whole call,
// which serializes them, so they need no lock of their own.
#include <pybind11/stl.h>

#include <cmath>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>

#include "arrays.hpp"
#include "optim/compact.hpp"
#include "optim/lbfgs.hpp"
#include "optim/line_search.hpp"

namespace toposcape::bindings {
namespace {

using optim::LbfgsMemory;
using release_gil = py::call_guard<py::gil_scoped_release>;

// A memory of absurd size would otherwise either fail deep inside the allocator with a bare
// "std::bad_alloc" or, when the kernel overcommits, be granted and then kill the process on
// first touch. Sizes larger than the machine's physical memory are refused up front, with the
// size that was asked for.
std::unique_ptr<LbfgsMemory> make_memory(int64_t n, int memory, bool single) {
    require(n >= 1, "n must be >= 1");
    require(memory >= 1, "memory must be >= 1");
    const double item = single ? sizeof(float) : sizeof(double);
    // Two (memory + 1) x n pair buffers and two (memory + 1) curvature vectors.
    const double rows = double(memory) + 1.0;
    const double bytes = 2.0 * rows * (double(n) * item + sizeof(double));
    const std::string what = "LbfgsMemory(n=" + std::to_string(n) +
                             ", memory=" + std::to_string(memory) +
                             (single ? ", single=True" : "") + ")";
    check_physical_memory(bytes, what);
    try {
        py::gil_scoped_release release;
        return std::make_unique<LbfgsMemory>(n, memory, single);
    } catch (const std::bad_alloc&) {
        raise_memory_error(what + " needs " + gib(bytes) + ": the allocation failed");
    } catch (const std::length_error&) {
        raise_memory_error(what + " needs " + gib(bytes) +
                           ": the size overflows the address space");
    }
}

template <void (LbfgsMemory::*Apply)(const double*, double*) const>
py::array_t<double> apply_memory(const LbfgsMemory& mem, py::handle v_obj, py::object out,
                                 const char* fn) {
    const auto v = real_array<double>(v_obj, fn, "v");
    const double* vp = vector_arg(v, mem.n(), (std::string(fn) + ": v").c_str());
    auto result = output_arg(out, mem.n(), fn);
    double* op = result.mutable_data();
    require(op != vp, "out must not alias v");
    try {
        py::gil_scoped_release release;
        (mem.*Apply)(vp, op);
    } catch (const std::runtime_error& e) {
        // (apply_b: the compact form's middle matrix is numerically singular, which pairs of
        // wildly different scales can make it: a property of the stored pairs, not a bug)
        throw py::value_error(std::string(fn) + ": " + e.what() + " for the stored pairs");
    }
    return result;
}

// out = op(g) for a vector op of the memory: g and out checked (out may be given, must not
// alias g), the op run without the GIL.
template <class Op>
py::array_t<double> memory_vector_op(const LbfgsMemory& mem, py::handle g_obj, py::object out,
                                     const char* fn, Op op) {
    const auto g = real_array<double>(g_obj, fn, "g");
    const double* gp = vector_arg(g, mem.n(), (std::string(fn) + ": g").c_str());
    auto result = output_arg(out, mem.n(), fn);
    double* o = result.mutable_data();
    require(o != gp, "out must not alias g");
    {
        py::gil_scoped_release release;
        op(gp, o);
    }
    return result;
}

py::tuple memory_pairs(const LbfgsMemory& mem) {
    std::vector<double> S, Y;
    int k;
    {
        py::gil_scoped_release release;
        k = mem.copy_pairs(S, Y);
    }
    const auto rows = static_cast<py::ssize_t>(k), cols = static_cast<py::ssize_t>(mem.n());
    return py::make_tuple(matrix_from(std::move(S), rows, cols),
                          matrix_from(std::move(Y), rows, cols));
}

}  // namespace

void bind_optim(py::module_& m) {
    namespace opt = toposcape::optim;
    py::enum_<opt::Task>(m, "Task", "State of a reverse-communication line search.")
        .value("EVALUATE", opt::Task::Evaluate)
        .value("CONVERGED", opt::Task::Converged)
        .value("WARNING", opt::Task::Warning)
        .value("ERROR", opt::Task::Error);

    m.def("_compact_wide_vectors", &toposcape::optim::compact_wide_vectors, py::arg("use") = -1,
          "Internal (tests): whether the compact L-BFGS direction's passes use AVX2 vectors; "
          "use=0/1 turns them off/on where available, -1 only asks. Returns the setting "
          "before the call. Results are the same bits either way.");

    py::class_<LbfgsMemory>(m, "LbfgsMemory",
                            "Ring buffer of L-BFGS pairs (s, y) with the two-loop recursion and "
                            "the compact-representation products B_k v and H_k v.")
        .def(py::init(&make_memory), py::arg("n"), py::arg("memory"), py::arg("single") = false,
             "single: store the pairs in float32 (products accumulate in double); halves the "
             "memory traffic of the two-loop")
        .def_property_readonly("single", &LbfgsMemory::single)
        .def_property_readonly("n", &LbfgsMemory::n)
        .def_property_readonly("memory", &LbfgsMemory::m)
        .def_property_readonly("size", py::cpp_function(&LbfgsMemory::size, release_gil()),
                               "number of stored pairs")
        .def_property_readonly("n_pushed",
                               py::cpp_function(&LbfgsMemory::n_pushed, release_gil()))
        .def_property_readonly("n_skipped",
                               py::cpp_function(&LbfgsMemory::n_skipped, release_gil()))
        .def(
            "push",
            [](LbfgsMemory& mem, py::handle s_obj, py::handle y_obj, double skip_scale,
               double eps, double sy) {
                const auto s = real_array<double>(s_obj, "LbfgsMemory.push", "s");
                const auto y = real_array<double>(y_obj, "LbfgsMemory.push", "y");
                const double* sp = vector_arg(s, mem.n(), "LbfgsMemory.push: s");
                const double* yp = vector_arg(y, mem.n(), "LbfgsMemory.push: y");
                require(!std::isinf(sy), "LbfgsMemory.push: sy must be finite (or NaN: "
                                         "computed), got " + number(sy));
                py::gil_scoped_release release;
                return mem.push(sp, yp, skip_scale, eps, sy);
            },
            py::arg("s"), py::arg("y"), py::arg("skip_scale") = 0.0,
            py::arg("eps") = std::numeric_limits<double>::epsilon(),
            py::arg("sy") = std::numeric_limits<double>::quiet_NaN(),
            "Store (s, y) unless s.y <= eps * skip_scale (L-BFGS-B: skip_scale = -g_old.s). "
            "Returns whether the pair was stored. sy: precomputed s.y (NaN: computed).")
        .def(
            "push_step",
            [](LbfgsMemory& mem, py::handle d_obj, double step, py::handle g_new_obj,
               py::handle g_old_obj, double skip_scale, double eps) {
                const char* fn = "LbfgsMemory.push_step";
                const auto d = real_array<double>(d_obj, fn, "d");
                const auto g_new = real_array<double>(g_new_obj, fn, "g_new");
                const auto g_old = real_array<double>(g_old_obj, fn, "g_old");
                const double* dp = vector_arg(d, mem.n(), "LbfgsMemory.push_step: d");
                const double* np_ = vector_arg(g_new, mem.n(), "LbfgsMemory.push_step: g_new");
                const double* op = vector_arg(g_old, mem.n(), "LbfgsMemory.push_step: g_old");
                require(std::isfinite(step), "step must be finite");
                py::gil_scoped_release release;
                return mem.push_step(dp, step, np_, op, skip_scale, eps);
            },
            py::arg("d"), py::arg("step"), py::arg("g_new"), py::arg("g_old"),
            py::arg("skip_scale") = 0.0,
            py::arg("eps") = std::numeric_limits<double>::epsilon(),
            "push(step * d, g_new - g_old) without forming the vectors. Returns whether the "
            "pair was stored.")
        .def("clear", &LbfgsMemory::clear, release_gil())
        .def("gamma", &LbfgsMemory::gamma, release_gil(),
             "s.y / y.y of the newest pair (1 when empty)")
        .def(
            "two_loop",
            [](const LbfgsMemory& mem, py::handle g_obj, py::object out, bool negate) {
                return memory_vector_op(mem, g_obj, out, "LbfgsMemory.two_loop",
                                        [&](const double* g, double* o) {
                                            mem.two_loop(g, o, negate);
                                        });
            },
            py::arg("g"), py::arg("out") = py::none(), py::arg("negate") = false,
            "H_k g by the two-loop recursion, H_0 = gamma I (negate: -H_k g)")
        .def(
            "direction",
            [](const LbfgsMemory& mem, py::handle g_obj, py::object out) {
                return memory_vector_op(mem, g_obj, out, "LbfgsMemory.direction",
                                        [&](const double* g, double* o) {
                                            mem.direction(g, o);
                                        });
            },
            py::arg("g"), py::arg("out") = py::none(),
            "-H_k g, the L-BFGS direction: the two-loop with float64 pairs, the compact "
            "representation (two passes over the pairs, none over a work vector) with float32 "
            "pairs; the same matrix, different rounding")
        .def(
            "direction_and_slope",
            [](const LbfgsMemory& mem, py::handle g_obj, py::object out) {
                double slope = 0.0;
                auto d = memory_vector_op(mem, g_obj, out, "LbfgsMemory.direction_and_slope",
                                          [&](const double* g, double* o) {
                                              mem.direction(g, o, &slope);
                                          });
                return py::make_tuple(d, slope);
            },
            py::arg("g"), py::arg("out") = py::none(),
            "(d, g.d): direction(g) and its slope (float32 pairs: summed in the direction's "
            "own pass)")
        .def(
            "apply_b",
            [](const LbfgsMemory& mem, py::handle v, py::object out) {
                return apply_memory<&LbfgsMemory::apply_b>(mem, v, out, "LbfgsMemory.apply_b");
            },
            py::arg("v"), py::arg("out") = py::none(), "B_k v from the compact representation")
        .def(
            "apply_h",
            [](const LbfgsMemory& mem, py::handle v, py::object out) {
                return apply_memory<&LbfgsMemory::apply_h>(mem, v, out, "LbfgsMemory.apply_h");
            },
            py::arg("v"), py::arg("out") = py::none(), "H_k v from the compact representation")
        .def("pairs", &memory_pairs, "(S, Y): float64 copies of the stored pairs, (size, n), oldest first");

    py::class_<opt::MoreThuente>(m, "MoreThuente",
                                 "Moré-Thuente strong-Wolfe line search (MINPACK-2 dcsrch).")
        .def(py::init<double, double, double, double, double>(), py::arg("ftol") = 1e-3,
             py::arg("gtol") = 0.9, py::arg("xtol") = 0.1, py::arg("stpmin") = 0.0,
             py::arg("stpmax") = 1e10)
        .def("start", &opt::MoreThuente::start, py::arg("f0"), py::arg("g0"), py::arg("step"))
        .def("iterate", &opt::MoreThuente::iterate, py::arg("f"), py::arg("g"))
        .def_property_readonly("step", &opt::MoreThuente::step)
        .def_property_readonly("message", &opt::MoreThuente::message);

    py::class_<opt::Armijo>(m, "Armijo", "Backtracking line search to sufficient decrease.")
        .def(py::init([](double c1, double shrink, double stpmin) {
                 // Outside these ranges the search never ends (shrink 1 or NaN: the step never
                 // changes; stpmin 0 or NaN: it is never reached) or accepts a step above the
                 // first trial (shrink > 1).
                 require(c1 > 0.0 && c1 < 1.0,
                         "Armijo: c1 must lie in (0, 1), got " + number(c1));
                 require(shrink > 0.0 && shrink < 1.0,
                         "Armijo: shrink must lie in (0, 1), got " + number(shrink));
                 require(stpmin > 0.0 && std::isfinite(stpmin),
                         "Armijo: stpmin must be positive and finite, got " + number(stpmin));
                 return std::make_unique<opt::Armijo>(c1, shrink, stpmin);
             }),
             py::arg("c1") = 1e-4, py::arg("shrink") = 0.5, py::arg("stpmin") = 1e-20)
        .def("start", &opt::Armijo::start, py::arg("f0"), py::arg("g0"), py::arg("step"))
        .def("iterate", &opt::Armijo::iterate, py::arg("f"))
        .def_property_readonly("step", &opt::Armijo::step)
        .def_property_readonly("message", &opt::Armijo::message);

    py::class_<opt::GoldenSection>(m, "GoldenSection",
                                   "Exact line search: bracketing, then golden sections.")
        .def(py::init<double, int>(), py::arg("xtol") = 1e-4, py::arg("max_expansions") = 50)
        .def("start", &opt::GoldenSection::start, py::arg("f0"), py::arg("step"))
        .def("iterate", &opt::GoldenSection::iterate, py::arg("f"))
        .def_property_readonly("step", &opt::GoldenSection::step)
        .def_property_readonly("best_value", &opt::GoldenSection::best_value)
        .def_property_readonly("message", &opt::GoldenSection::message);
}

}  // namespace toposcape::bindings
