#include "linalg/eigen.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace toposcape::linalg {
namespace {

// Sort eigenvalues ascending and permute the eigenvector columns to match.
void sort_pairs(std::vector<double>& w, std::vector<double>& Z, int k) {
    std::vector<int> order(k);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return w[a] < w[b]; });
    std::vector<double> w_sorted(k), Z_sorted(static_cast<size_t>(k) * k);
    for (int j = 0; j < k; ++j) {
        w_sorted[j] = w[order[j]];
        for (int i = 0; i < k; ++i) Z_sorted[i * k + j] = Z[i * k + order[j]];
    }
    w.swap(w_sorted);
    Z.swap(Z_sorted);
}

}  // namespace

void tridiagonal_eigh(const std::vector<double>& diag, const std::vector<double>& off,
                      std::vector<double>& w, std::vector<double>& Z) {
    const int k = static_cast<int>(diag.size());
    if (k > 0 && static_cast<int>(off.size()) != k - 1)
        throw std::invalid_argument("tridiagonal_eigh: off-diagonal must have length k - 1");
    w = diag;
    std::vector<double> e(k, 0.0);  // e[i] couples rows i and i + 1; e[k - 1] = 0
    for (int i = 0; i + 1 < k; ++i) e[i] = off[i];
    // Entries near the largest double overflow inside the sweeps (w[m] - w[l], 2 c b, ...):
    // such a matrix is solved scaled by a power of two, which every step below commutes with
    // exactly, and its eigenvalues scaled back (they may then overflow: the caller checks).
    // Any ordinary matrix is left as it is, bit for bit.
    double amax = 0.0;
    for (int i = 0; i < k; ++i) amax = std::max({amax, std::fabs(w[i]), std::fabs(e[i])});
    int exponent = 0;
    if (amax > 0x1p500 && std::isfinite(amax)) {
        std::frexp(amax, &exponent);
        for (int i = 0; i < k; ++i) {
            w[i] = std::ldexp(w[i], -exponent);
            e[i] = std::ldexp(e[i], -exponent);
        }
    }
    Z.assign(static_cast<size_t>(k) * k, 0.0);
    for (int i = 0; i < k; ++i) Z[i * k + i] = 1.0;
    const double eps = std::numeric_limits<double>::epsilon();
    for (int l = 0; l < k; ++l) {
        int iterations = 0;
        int m;
        do {
            // Find a negligible off-diagonal element to split the matrix at.
            for (m = l; m < k - 1; ++m) {
                const double dd = std::fabs(w[m]) + std::fabs(w[m + 1]);
                if (std::fabs(e[m]) <= eps * dd) break;
            }
            if (m == l) break;
            if (++iterations > 60) throw std::runtime_error("tridiagonal_eigh: no convergence");
            // Wilkinson shift from the leading 2 x 2 block.
            double g = (w[l + 1] - w[l]) / (2.0 * e[l]);
            double r = std::hypot(g, 1.0);
            g = w[m] - w[l] + e[l] / (g + std::copysign(r, g));
            double s = 1.0, c = 1.0, p = 0.0;
            int i;
            bool deflated = false;
            for (i = m - 1; i >= l; --i) {
                double f = s * e[i];
                const double b = c * e[i];
                r = std::hypot(f, g);
                e[i + 1] = r;
                if (r == 0.0) {  // underflow: recover and restart the sweep
                    w[i + 1] -= p;
                    e[m] = 0.0;
                    deflated = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = w[i + 1] - p;
                r = (w[i] - g) * s + 2.0 * c * b;
                p = s * r;
                w[i + 1] = g + p;
                g = c * r - b;
                for (int row = 0; row < k; ++row) {
                    double* zr = &Z[static_cast<size_t>(row) * k];
                    f = zr[i + 1];
                    zr[i + 1] = s * zr[i] + c * f;
                    zr[i] = c * zr[i] - s * f;
                }
            }
            if (deflated) continue;
            w[l] -= p;
            e[l] = g;
            e[m] = 0.0;
        } while (m != l);
    }
    if (exponent != 0)
        for (int i = 0; i < k; ++i) w[i] = std::ldexp(w[i], exponent);
    sort_pairs(w, Z, k);
}

void symmetric_eigh(const std::vector<double>& A_in, int k, std::vector<double>& w,
                    std::vector<double>& Z) {
    if (static_cast<int64_t>(A_in.size()) != static_cast<int64_t>(k) * k)
        throw std::invalid_argument("symmetric_eigh: matrix must be k x k");
    // Work on (A + A^T) / 2 scaled to max |a_ij| = 1: sums of squares then neither underflow
    // nor overflow, and the thresholds below are relative to ||A||.
    double amax = 0.0;
    for (double a : A_in) amax = std::max(amax, std::fabs(a));
    Z.assign(static_cast<size_t>(k) * k, 0.0);
    for (int i = 0; i < k; ++i) Z[i * k + i] = 1.0;
    w.assign(k, 0.0);
    if (amax == 0.0) return;
    std::vector<double> A(A_in.size());
    for (int i = 0; i < k; ++i)
        for (int j = 0; j < k; ++j)
            A[i * k + j] = 0.5 * (A_in[i * k + j] / amax + A_in[j * k + i] / amax);
    const double eps = std::numeric_limits<double>::epsilon();
    // Entries below eps * ||A||_F are rounding noise: every rotation leaves residue of that
    // size, so a smaller floor never terminates on clustered eigenvalues (e.g. a block of
    // zeros). Dropping them perturbs eigenvalues by O(eps ||A||), the backward error anyway.
    double frobenius = 0.0;
    for (double a : A) frobenius += a * a;
    const double floor = eps * std::sqrt(frobenius);
    bool rotated = true;
    for (int sweep = 0; rotated; ++sweep) {
        if (sweep == 100) throw std::runtime_error("symmetric_eigh: no convergence in 100 sweeps");
        rotated = false;
        for (int p = 0; p < k; ++p) {
            for (int q = p + 1; q < k; ++q) {
                const double apq = A[p * k + q];
                const double app = A[p * k + p], aqq = A[q * k + q];
                // Negligible against the diagonal (relative accuracy) or against ||A||.
                if (std::fabs(apq) <= eps * std::sqrt(std::fabs(app * aqq)) ||
                    std::fabs(apq) <= floor) {
                    A[p * k + q] = A[q * k + p] = 0.0;
                    continue;
                }
                rotated = true;
                const double theta = (aqq - app) / (2.0 * apq);
                const double t = std::fabs(theta) > 1e150
                                     ? 0.5 / theta
                                     : std::copysign(1.0, theta) /
                                           (std::fabs(theta) + std::sqrt(theta * theta + 1.0));
                const double c = 1.0 / std::sqrt(t * t + 1.0);
                const double s = t * c;
                // A <- J^T A J with J the rotation in the (p, q) plane.
                for (int r = 0; r < k; ++r) {
                    const double arp = A[r * k + p], arq = A[r * k + q];
                    A[r * k + p] = c * arp - s * arq;
                    A[r * k + q] = s * arp + c * arq;
                }
                for (int r = 0; r < k; ++r) {
                    const double apr = A[p * k + r], aqr = A[q * k + r];
                    A[p * k + r] = c * apr - s * aqr;
                    A[q * k + r] = s * apr + c * aqr;
                }
                for (int r = 0; r < k; ++r) {
                    const double zrp = Z[r * k + p], zrq = Z[r * k + q];
                    Z[r * k + p] = c * zrp - s * zrq;
                    Z[r * k + q] = s * zrp + c * zrq;
                }
            }
        }
    }
    for (int i = 0; i < k; ++i) w[i] = A[i * k + i] * amax;
    sort_pairs(w, Z, k);
}

void gauss_quadrature(const std::vector<double>& diag, const std::vector<double>& off,
                      std::vector<double>& nodes, std::vector<double>& weights) {
    std::vector<double> Z;
    tridiagonal_eigh(diag, off, nodes, Z);
    const int k = static_cast<int>(nodes.size());
    weights.resize(k);
    for (int i = 0; i < k; ++i) weights[i] = Z[i] * Z[i];  // first row
}

}  // namespace toposcape::linalg
