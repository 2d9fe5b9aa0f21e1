// pybind11 bindings of the C++ core: thin, typed, validating every array at the boundary.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "common/parallel.hpp"
#include "fem/assembly.hpp"
#include "fem/filter.hpp"
#include "linalg/eigen.hpp"
#include "linalg/lanczos.hpp"
#include "optim/lbfgs.hpp"
#include "optim/line_search.hpp"

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


// ---------------------------------------------------------------------------------------
// optim
// ---------------------------------------------------------------------------------------
using toposcape::optim::LbfgsMemory;

const double* vector_arg(const carray<double>& a, int64_t n, const char* name) {
    if (a.ndim() != 1 || a.shape(0) != n) {
        throw py::value_error(std::string(name) + " must be a 1-D float64 array of length " +
                              std::to_string(n));
    }
    return a.data();
}

py::array_t<double> output_arg(py::object out, int64_t n) {
    if (out.is_none()) return py::array_t<double>(n);
    auto arr = py::cast<py::array_t<double>>(out);
    require(arr.ndim() == 1 && arr.shape(0) == n && arr.writeable() &&
                (arr.flags() & py::array::c_style),
            "out must be a writeable contiguous float64 array of length " + std::to_string(n));
    return arr;
}

template <void (LbfgsMemory::*Apply)(const double*, double*) const>
py::array_t<double> apply_memory(const LbfgsMemory& mem, const carray<double>& v, py::object out) {
    const double* vp = vector_arg(v, mem.n(), "v");
    auto result = output_arg(out, mem.n());
    double* op = result.mutable_data();
    require(op != vp, "out must not alias v");
    {
        py::gil_scoped_release release;
        (mem.*Apply)(vp, op);
    }
    return result;
}

py::tuple memory_pairs(const LbfgsMemory& mem) {
    const int k = mem.size();
    const int64_t n = mem.n();
    py::array_t<double> S({static_cast<py::ssize_t>(k), static_cast<py::ssize_t>(n)});
    py::array_t<double> Y({static_cast<py::ssize_t>(k), static_cast<py::ssize_t>(n)});
    double* sp = S.mutable_data();
    double* yp = Y.mutable_data();
    for (int i = 0; i < k; ++i) mem.copy_pair(i, sp + i * n, yp + i * n);
    return py::make_tuple(S, Y);
}

// ---------------------------------------------------------------------------------------
// linalg
// ---------------------------------------------------------------------------------------
namespace la = toposcape::linalg;

// A Python callable y = f(x) as the core's matrix-vector product. x is handed over as a fresh
// array (the callable may keep it); the GIL is taken only around the call.
// Build it with the GIL held (it copies a Python reference) and let it die with the GIL held.
la::MatVec python_matvec(const py::object& fn, int64_t n) {
    return [fn, n](const double* x, double* y) {
        py::gil_scoped_acquire gil;
        py::array_t<double> xin(n);
        std::copy(x, x + n, xin.mutable_data());
        py::object out = fn(xin);
        auto arr = carray<double>::ensure(out);
        if (!arr || arr.ndim() != 1 || arr.shape(0) != n)
            throw py::value_error("the matrix-vector product must return a 1-D float array of "
                                  "length " + std::to_string(n));
        std::copy(arr.data(), arr.data() + n, y);
    };
}

std::vector<double> to_vector(const carray<double>& a, const char* name) {
    require(a.ndim() == 1, std::string(name) + " must be a 1-D float64 array");
    for (py::ssize_t i = 0; i < a.shape(0); ++i)
        require(std::isfinite(a.data()[i]), std::string(name) + " contains NaN or inf");
    return std::vector<double>(a.data(), a.data() + a.shape(0));
}

py::array_t<double> matrix_of(const std::vector<double>& v, py::ssize_t rows, py::ssize_t cols) {
    py::array_t<double> out({rows, cols});
    std::copy(v.begin(), v.end(), out.mutable_data());
    return out;
}

py::tuple tridiagonal_eigh(const carray<double>& diag, const carray<double>& off) {
    auto d = to_vector(diag, "diag");
    auto e = to_vector(off, "off");
    require(!d.empty() && e.size() + 1 == d.size(), "off must have length len(diag) - 1 >= 0");
    std::vector<double> w, Z;
    {
        py::gil_scoped_release release;
        la::tridiagonal_eigh(d, e, w, Z);
    }
    const auto k = static_cast<py::ssize_t>(d.size());
    return py::make_tuple(copy_of(w), matrix_of(Z, k, k));
}

py::tuple symmetric_eigh(const carray<double>& A) {
    require(A.ndim() == 2 && A.shape(0) == A.shape(1) && A.shape(0) >= 1,
            "A must be a square 2-D float64 array");
    const auto k = static_cast<int>(A.shape(0));
    std::vector<double> a(A.data(), A.data() + static_cast<size_t>(k) * k);
    for (double x : a) require(std::isfinite(x), "A contains NaN or inf");
    std::vector<double> w, Z;
    {
        py::gil_scoped_release release;
        la::symmetric_eigh(a, k, w, Z);
    }
    return py::make_tuple(copy_of(w), matrix_of(Z, k, k));
}

py::tuple gauss_quadrature(const carray<double>& diag, const carray<double>& off) {
    auto d = to_vector(diag, "diag");
    auto e = to_vector(off, "off");
    require(!d.empty() && e.size() + 1 == d.size(), "off must have length len(diag) - 1 >= 0");
    std::vector<double> nodes, weights;
    {
        py::gil_scoped_release release;
        la::gauss_quadrature(d, e, nodes, weights);
    }
    return py::make_tuple(copy_of(nodes), copy_of(weights));
}

py::tuple lanczos(py::object matvec, const carray<double>& v0, int steps, double breakdown,
                  bool return_basis) {
    require(v0.ndim() == 1 && v0.shape(0) >= 1, "v0 must be a non-empty 1-D float64 array");
    require(steps >= 1, "steps must be >= 1");
    const int64_t n = v0.shape(0);
    require(steps <= n, "steps must be <= len(v0)");
    std::vector<double> start(v0.data(), v0.data() + n);
    la::LanczosRun run;
    std::unique_ptr<la::KrylovBasis> basis;
    if (return_basis) basis = std::make_unique<la::KrylovBasis>(n, steps);
    const la::MatVec product = python_matvec(matvec, n);
    {
        py::gil_scoped_release release;
        run = la::lanczos(product, n, start.data(), steps, basis.get(), breakdown);
    }
    if (!return_basis) return py::make_tuple(copy_of(run.alpha), copy_of(run.beta));
    const auto k = static_cast<py::ssize_t>(run.alpha.size());
    py::array_t<double> V({k, static_cast<py::ssize_t>(n)});
    for (py::ssize_t i = 0; i < k; ++i)
        std::copy(basis->row(static_cast<int>(i)), basis->row(static_cast<int>(i)) + n,
                  V.mutable_data() + i * n);
    return py::make_tuple(copy_of(run.alpha), copy_of(run.beta), V);
}

py::dict eigsh(py::object matvec, const carray<double>& v0, int k, const std::string& which,
               double tol, int ncv, int max_restarts) {
    require(v0.ndim() == 1 && v0.shape(0) >= 1, "v0 must be a non-empty 1-D float64 array");
    const int64_t n = v0.shape(0);
    require(k >= 1 && k <= n, "k must lie in [1, n]");
    require(which == "LA" || which == "SA" || which == "BE" || which == "LM",
            "which must be 'LA', 'SA', 'BE' or 'LM'");
    require(tol > 0.0 && std::isfinite(tol), "tol must be positive and finite");
    require(max_restarts >= 0, "max_restarts must be >= 0");
    std::vector<double> start(v0.data(), v0.data() + n);
    require(ncv >= k + 1 || ncv >= n, "ncv must be >= k + 1 (or >= n)");
    la::EigshResult res;
    const la::MatVec product = python_matvec(matvec, n);
    {
        py::gil_scoped_release release;
        res = la::eigsh(product, n, k, which, tol, ncv, max_restarts, start.data());
    }
    py::dict out;
    out["values"] = copy_of(res.values);
    out["vectors"] = matrix_of(res.vectors, static_cast<py::ssize_t>(res.values.size()),
                               static_cast<py::ssize_t>(n));
    out["residuals"] = copy_of(res.residuals);
    out["matvecs"] = res.matvecs;
    out["restarts"] = res.restarts;
    out["converged"] = res.converged;
    return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() =
        "toposcape's compiled core: structured-grid FE assembly, the cone filter, the L-BFGS "
        "memory and line searches.";

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
    namespace opt = toposcape::optim;
    py::enum_<opt::Task>(m, "Task", "State of a reverse-communication line search.")
        .value("EVALUATE", opt::Task::Evaluate)
        .value("CONVERGED", opt::Task::Converged)
        .value("WARNING", opt::Task::Warning)
        .value("ERROR", opt::Task::Error);

    py::class_<LbfgsMemory>(m, "LbfgsMemory",
                            "Ring buffer of L-BFGS pairs (s, y) with the two-loop recursion and "
                            "the compact-representation products B_k v and H_k v.")
        .def(py::init([](int64_t n, int memory, bool single) {
                 require(n >= 1, "n must be >= 1");
                 require(memory >= 1, "memory must be >= 1");
                 return std::make_unique<LbfgsMemory>(n, memory, single);
             }),
             py::arg("n"), py::arg("memory"), py::arg("single") = false,
             "single: store the pairs in float32 (products accumulate in double); halves the "
             "memory traffic of the two-loop")
        .def_property_readonly("single", &LbfgsMemory::single)
        .def_property_readonly("n", &LbfgsMemory::n)
        .def_property_readonly("memory", &LbfgsMemory::m)
        .def_property_readonly("size", &LbfgsMemory::size, "number of stored pairs")
        .def_property_readonly("n_pushed", &LbfgsMemory::n_pushed)
        .def_property_readonly("n_skipped", &LbfgsMemory::n_skipped)
        .def(
            "push",
            [](LbfgsMemory& mem, const carray<double>& s, const carray<double>& y,
               double skip_scale, double eps, double sy) {
                const double* sp = vector_arg(s, mem.n(), "s");
                const double* yp = vector_arg(y, mem.n(), "y");
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
            [](LbfgsMemory& mem, const carray<double>& d, double step, const carray<double>& g_new,
               const carray<double>& g_old, double skip_scale, double eps) {
                const double* dp = vector_arg(d, mem.n(), "d");
                const double* np_ = vector_arg(g_new, mem.n(), "g_new");
                const double* op = vector_arg(g_old, mem.n(), "g_old");
                require(std::isfinite(step), "step must be finite");
                py::gil_scoped_release release;
                return mem.push_step(dp, step, np_, op, skip_scale, eps);
            },
            py::arg("d"), py::arg("step"), py::arg("g_new"), py::arg("g_old"),
            py::arg("skip_scale") = 0.0,
            py::arg("eps") = std::numeric_limits<double>::epsilon(),
            "push(step * d, g_new - g_old) without forming the vectors. Returns whether the "
            "pair was stored.")
        .def("clear", &LbfgsMemory::clear)
        .def("gamma", &LbfgsMemory::gamma, "s.y / y.y of the newest pair (1 when empty)")
        .def(
            "two_loop",
            [](const LbfgsMemory& mem, const carray<double>& g, py::object out, bool negate) {
                const double* gp = vector_arg(g, mem.n(), "g");
                auto result = output_arg(out, mem.n());
                double* op = result.mutable_data();
                require(op != gp, "out must not alias g");
                py::gil_scoped_release release;
                mem.two_loop(gp, op, negate);
                return result;
            },
            py::arg("g"), py::arg("out") = py::none(), py::arg("negate") = false,
            "H_k g by the two-loop recursion, H_0 = gamma I (negate: -H_k g)")
        .def("apply_b", &apply_memory<&LbfgsMemory::apply_b>, py::arg("v"),
             py::arg("out") = py::none(), "B_k v from the compact representation")
        .def("apply_h", &apply_memory<&LbfgsMemory::apply_h>, py::arg("v"),
             py::arg("out") = py::none(), "H_k v from the compact representation")
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
        .def(py::init<double, double, double>(), py::arg("c1") = 1e-4, py::arg("shrink") = 0.5,
             py::arg("stpmin") = 1e-20)
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

    m.def("tridiagonal_eigh", &tridiagonal_eigh, py::arg("diag"), py::arg("off"),
          "Eigen-decomposition of a symmetric tridiagonal matrix (implicit QL): (w ascending, "
          "Z with eigenvector i in column i).");
    m.def("symmetric_eigh", &symmetric_eigh, py::arg("A"),
          "Eigen-decomposition of a small dense symmetric matrix (cyclic Jacobi): (w, Z).");
    m.def("gauss_quadrature", &gauss_quadrature, py::arg("diag"), py::arg("off"),
          "Gauss quadrature of a Lanczos tridiagonal: (nodes, weights), weights sum to 1.");
    m.def("lanczos", &lanczos, py::arg("matvec"), py::arg("v0"), py::arg("steps"),
          py::arg("breakdown") = 1e-12, py::arg("return_basis") = false,
          "Lanczos run with full reorthogonalization: (alpha, beta[, basis (k, n)]). matvec: "
          "callable y = A x on float64 (n,) arrays. Stops early at an invariant subspace.");
    m.def("eigsh", &eigsh, py::arg("matvec"), py::arg("v0"), py::arg("k"), py::arg("which"),
          py::arg("tol"), py::arg("ncv"), py::arg("max_restarts"),
          "Extremal eigenpairs by thick-restart Lanczos: dict(values, vectors (k, n), "
          "residuals, matvecs, restarts, converged).");
    m.def("get_num_threads", &toposcape::num_threads,
          "Threads of the core's memory-bound passes (two-loop, reorthogonalization).");
    m.def(
        "set_num_threads",
        [](int n) { toposcape::set_num_threads(n); },
        py::arg("n"),
        "Set the core's thread count; n <= 0 restores the default (TOPOSCAPE_NUM_THREADS, "
        "else the number of processors, 1 to 8). Independent of torch's and MKL's.");
    m.def(
        "csr_residual",
        [](const carray<int32_t>& indptr, const carray<int32_t>& indices,
           const carray<double>& data, const carray<double>& x, const carray<double>& b,
           bool upper) {
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
        },
        py::arg("indptr"), py::arg("indices"), py::arg("data"), py::arg("x"), py::arg("b"),
        py::arg("upper"),
        "Residual b - K x for K in CSR (upper=True: only the upper triangle is stored), in one "
        "pass.");

    m.def(
        "step_point",
        [](const carray<double>& base, double step, const carray<double>& d) {
            require(base.ndim() == 1 && d.ndim() == 1 && base.shape(0) == d.shape(0),
                    "step_point needs two 1-D arrays of equal length");
            const int64_t n = base.shape(0);
            py::array_t<double> out(n);
            const double* bp = base.data();
            const double* dp = d.data();
            double* op = out.mutable_data();
            py::gil_scoped_release release;
            opt::step_point(bp, step, dp, op, n);
            return out;
        },
        py::arg("base"), py::arg("step"), py::arg("d"),
        "base + step * d as a new array, in one pass");
    m.def(
        "distance",
        [](const carray<double>& a, const carray<double>& b) {
            require(a.ndim() == 1 && b.ndim() == 1 && a.shape(0) == b.shape(0),
                    "distance needs two 1-D arrays of equal length");
            const double* ap = a.data();
            const double* bp = b.data();
            const int64_t n = a.shape(0);
            py::gil_scoped_release release;
            return std::sqrt(opt::distance_squared(ap, bp, n));
        },
        py::arg("a"), py::arg("b"), "||a - b|| in one pass");
    m.def(
        "dot",
        [](const carray<double>& a, const carray<double>& b) {
            require(a.ndim() == 1 && b.ndim() == 1 && a.shape(0) == b.shape(0),
                    "dot needs two 1-D arrays of equal length");
            const double* ap = a.data();
            const double* bp = b.data();
            const int64_t n = a.shape(0);
            py::gil_scoped_release release;
            return opt::dot(ap, bp, n);
        },
        py::arg("a"), py::arg("b"),
        "Single-threaded dot product of two float64 vectors (no BLAS thread pool: on small "
        "machines a threaded BLAS level-1 call contends with the solver's and torch's threads).");

    m.def("cone_filter", &cone_filter, py::arg("mask"), py::arg("radius"),
          "Cone filter F = diag(1/colsum(R)) R over an (H, W) grid in C order; returns "
          "(indptr int64, indices int32, data float64) of the CSR matrix.");
}
