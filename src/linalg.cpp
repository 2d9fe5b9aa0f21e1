// Bindings of cpp/linalg: tridiagonal and small dense eigen-solves, Gauss quadrature, Lanczos
// and thick-restart eigsh over a Python matrix-vector product.
#include <pybind11/stl.h>

#include <algorithm>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>

#include "arrays.hpp"
#include "linalg/eigen.hpp"
#include "linalg/lanczos.hpp"

namespace toposcape::bindings {
namespace {

namespace la = toposcape::linalg;

// A Python callable y = f(x) as the core's matrix-vector product. x is handed over as a fresh
// array (the callable may keep it); the GIL is taken only around the call.
// Build it with the GIL held (it copies a Python reference) and let it die with the GIL held.
la::MatVec python_matvec(const py::object& fn, int64_t n, const char* name) {
    return [fn, n, name](const double* x, double* y) {
        py::gil_scoped_acquire gil;
        py::array_t<double> xin(n);
        std::copy(x, x + n, xin.mutable_data());
        py::object out = fn(xin);
        auto arr = real_array<double>(out, name, "the matrix-vector product's result");
        if (arr.ndim() != 1 || arr.shape(0) != n)
            throw py::value_error(std::string(name) +
                                  ": the matrix-vector product must return a 1-D float array "
                                  "of length " + std::to_string(n) + ", got shape " +
                                  shape_of(arr));
        std::copy(arr.data(), arr.data() + n, y);
    };
}

// Runs `solve` (a dense eigen-solve of the core), turning its failures into ValueErrors: the
// iterations' "no convergence" (std::runtime_error) is a property of the matrix given, and a
// RuntimeError would read as a bug of the core.
template <class Solve>
void dense_solve(const char* fn, Solve&& solve) {
    try {
        py::gil_scoped_release release;
        solve();
    } catch (const std::runtime_error& e) {
        throw py::value_error(std::string(fn) + ": the eigen-solve failed for this matrix (" +
                              e.what() + ")");
    }
}

void require_finite_values(const std::vector<double>& w, const char* fn) {
    for (double x : w)
        require(std::isfinite(x), std::string(fn) +
                                      ": the eigenvalues overflow float64 (entries too close "
                                      "to the largest float, 1.8e308)");
}

py::tuple tridiagonal_eigh(py::handle diag_obj, py::handle off_obj) {
    auto d = to_vector(real_array<double>(diag_obj, "tridiagonal_eigh", "diag"), "diag");
    auto e = to_vector(real_array<double>(off_obj, "tridiagonal_eigh", "off"), "off");
    require(!d.empty() && e.size() + 1 == d.size(), "off must have length len(diag) - 1 >= 0");
    std::vector<double> w, Z;
    dense_solve("tridiagonal_eigh", [&] { la::tridiagonal_eigh(d, e, w, Z); });
    require_finite_values(w, "tridiagonal_eigh");
    const auto k = static_cast<py::ssize_t>(d.size());
    return py::make_tuple(copy_of(w), matrix_of(Z, k, k));
}

py::tuple symmetric_eigh(py::handle A_obj) {
    const auto A = real_array<double>(A_obj, "symmetric_eigh", "A");
    require(A.ndim() == 2 && A.shape(0) == A.shape(1) && A.shape(0) >= 1,
            "A must be a square 2-D float64 array, got shape " + shape_of(A));
    require(A.shape(0) <= 46340, "symmetric_eigh: A must have at most 46340 rows (a small "
                                 "dense matrix), got " + std::to_string(A.shape(0)));
    const auto k = static_cast<int>(A.shape(0));
    std::vector<double> a(A.data(), A.data() + static_cast<size_t>(k) * k);
    for (double x : a) require(std::isfinite(x), "A contains NaN or inf");
    std::vector<double> w, Z;
    dense_solve("symmetric_eigh", [&] { la::symmetric_eigh(a, k, w, Z); });
    require_finite_values(w, "symmetric_eigh");
    return py::make_tuple(copy_of(w), matrix_of(Z, k, k));
}

py::tuple gauss_quadrature(py::handle diag_obj, py::handle off_obj) {
    auto d = to_vector(real_array<double>(diag_obj, "gauss_quadrature", "diag"), "diag");
    auto e = to_vector(real_array<double>(off_obj, "gauss_quadrature", "off"), "off");
    require(!d.empty() && e.size() + 1 == d.size(), "off must have length len(diag) - 1 >= 0");
    std::vector<double> nodes, weights;
    dense_solve("gauss_quadrature", [&] { la::gauss_quadrature(d, e, nodes, weights); });
    require_finite_values(nodes, "gauss_quadrature");
    return py::make_tuple(copy_of(nodes), copy_of(weights));
}

py::tuple lanczos(py::object matvec, py::handle v0_obj, int steps, double breakdown,
                  bool return_basis) {
    const auto v0 = real_array<double>(v0_obj, "lanczos", "v0");
    require(v0.ndim() == 1 && v0.shape(0) >= 1, "v0 must be a non-empty 1-D float64 array");
    require(steps >= 1, "steps must be >= 1");
    const int64_t n = v0.shape(0);
    require(steps <= n, "steps must be <= len(v0)");
    // The Krylov basis (steps x n), and its copy handed back with return_basis.
    const double bytes = 8.0 * (double(n) * steps * (return_basis ? 2.0 : 1.0) + 3.0 * n + steps);
    const std::string what = "lanczos(n=" + std::to_string(n) + ", steps=" +
                             std::to_string(steps) + ") with its Krylov basis of " +
                             std::to_string(steps) + " x " + std::to_string(n) + " floats";
    check_physical_memory(bytes, what);
    std::vector<double> start(v0.data(), v0.data() + n);
    la::LanczosRun run;
    std::unique_ptr<la::KrylovBasis> basis;
    const la::MatVec product = python_matvec(matvec, n, "lanczos");
    try {
        if (return_basis) basis = std::make_unique<la::KrylovBasis>(n, steps);
        py::gil_scoped_release release;
        run = la::lanczos(product, n, start.data(), steps, basis.get(), breakdown);
    } catch (const std::bad_alloc&) {
        raise_memory_error(what + " needs " + gib(bytes) + ": the allocation failed");
    }
    if (!return_basis) return py::make_tuple(copy_of(run.alpha), copy_of(run.beta));
    const auto k = static_cast<py::ssize_t>(run.alpha.size());
    py::array_t<double> V({k, static_cast<py::ssize_t>(n)});
    for (py::ssize_t i = 0; i < k; ++i)
        std::copy(basis->row(static_cast<int>(i)), basis->row(static_cast<int>(i)) + n,
                  V.mutable_data() + i * n);
    return py::make_tuple(copy_of(run.alpha), copy_of(run.beta), V);
}

py::dict eigsh(py::object matvec, py::handle v0_obj, int k, const std::string& which,
               double tol, int ncv, int max_restarts) {
    const auto v0 = real_array<double>(v0_obj, "eigsh", "v0");
    require(v0.ndim() == 1 && v0.shape(0) >= 1, "v0 must be a non-empty 1-D float64 array");
    const int64_t n = v0.shape(0);
    require(k >= 1 && k <= n, "k must lie in [1, n]");
    require(which == "LA" || which == "SA" || which == "BE" || which == "LM",
            "which must be 'LA', 'SA', 'BE' or 'LM'");
    require(tol > 0.0 && std::isfinite(tol), "tol must be positive and finite");
    require(max_restarts >= 0, "max_restarts must be >= 0");
    std::vector<double> start(v0.data(), v0.data() + n);
    require(ncv >= k + 1 || ncv >= n, "ncv must be >= k + 1 (or >= n)");
    // The basis size of the core (cpp/linalg/lanczos.cpp), its basis (m x n), the projected
    // matrices and Ritz vectors (a few m x m), the eigenvectors (k x n) and their copy.
    const int64_t m = std::max<int64_t>(std::min<int64_t>(n, std::max(ncv, k + 1)), k);
    const double bytes =
        8.0 * (double(n) * double(m) + 2.0 * double(k) * double(n) + 6.0 * double(m) * double(m) +
               4.0 * double(n));
    const std::string what = "eigsh(n=" + std::to_string(n) + ", k=" + std::to_string(k) +
                             ", ncv=" + std::to_string(ncv) + ") with its Krylov basis of " +
                             std::to_string(m) + " x " + std::to_string(n) + " floats";
    check_physical_memory(bytes, what);
    la::EigshResult res;
    const la::MatVec product = python_matvec(matvec, n, "eigsh");
    try {
        py::gil_scoped_release release;
        res = la::eigsh(product, n, k, which, tol, ncv, max_restarts, start.data());
    } catch (const std::bad_alloc&) {
        raise_memory_error(what + " needs " + gib(bytes) + ": the allocation failed");
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

void bind_linalg(py::module_& m) {
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
}

}  // namespace toposcape::bindings
