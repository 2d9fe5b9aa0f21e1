#include "optim/line_search.hpp"

#include <algorithm>
#include <cmath>

namespace toposcape::optim {

namespace {
constexpr double kP5 = 0.5, kP66 = 0.66, kXtrapL = 1.1, kXtrapU = 4.0;
constexpr double kInvPhi = 0.6180339887498949;  // 1 / golden ratio
}  // namespace

// ------------------------------------------------------------------------------------------
// Moré-Thuente
// ------------------------------------------------------------------------------------------

MoreThuente::MoreThuente(double ftol, double gtol, double xtol, double stpmin, double stpmax)
    : ftol_(ftol), gtol_(gtol), xtol_(xtol), stpmin_(stpmin), stpmax_(stpmax) {}

Task MoreThuente::finish(Task task, const char* message) {
    active_ = false;
    message_ = message;
    return task;
}

Task MoreThuente::start(double f0, double g0, double stp) {
    stp_ = stp;
    if (stp < stpmin_) return finish(Task::Error, "ERROR: STP .LT. STPMIN");
    if (stp > stpmax_) return finish(Task::Error, "ERROR: STP .GT. STPMAX");
    if (!(g0 < 0)) return finish(Task::Error, "ERROR: INITIAL G .GE. ZERO");
    if (!std::isfinite(f0)) return finish(Task::Error, "ERROR: INITIAL F NOT FINITE");
    if (ftol_ < 0) return finish(Task::Error, "ERROR: FTOL .LT. ZERO");
    if (gtol_ < 0) return finish(Task::Error, "ERROR: GTOL .LT. ZERO");
    if (xtol_ < 0) return finish(Task::Error, "ERROR: XTOL .LT. ZERO");
    if (stpmin_ < 0) return finish(Task::Error, "ERROR: STPMIN .LT. ZERO");
    if (stpmax_ < stpmin_) return finish(Task::Error, "ERROR: STPMAX .LT. STPMIN");
    brackt_ = false;
    stage_ = 1;
    finit_ = f0;
    ginit_ = g0;
    gtest_ = ftol_ * ginit_;
    width_ = stpmax_ - stpmin_;
    width1_ = width_ / kP5;
    stx_ = 0;
    fx_ = finit_;
    gx_ = ginit_;
    sty_ = 0;
    fy_ = finit_;
    gy_ = ginit_;
    stmin_ = 0;
    stmax_ = stp + kXtrapU * stp;
    active_ = true;
    message_ = "FG";
    return Task::Evaluate;
}

Task MoreThuente::iterate(double f, double g) {
    if (!active_) return finish(Task::Error, "ERROR: ITERATE WITHOUT START");
    if (!std::isfinite(f) || !std::isfinite(g)) {
        // Back off towards the best step so far and never come back this far.
        stpmax_ = std::max(stpmin_, stp_);
        stmax_ = std::min(stmax_, stp_);
        const double next = stx_ + kP5 * (stp_ - stx_);
        if (!(next > stpmin_) || next == stp_ || next == stx_) {
            stp_ = stx_;
            return finish(Task::Warning, "WARNING: NON-FINITE VALUES PREVENT PROGRESS");
        }
        stp_ = next;
        return Task::Evaluate;
    }
    double stp = stp_;
    const double ftest = finit_ + stp * gtest_;
    if (stage_ == 1 && f <= ftest && g >= 0) stage_ = 2;

    const char* warn = nullptr;
    if (brackt_ && (stp <= stmin_ || stp >= stmax_))
        warn = "WARNING: ROUNDING ERRORS PREVENT PROGRESS";
    if (brackt_ && stmax_ - stmin_ <= xtol_ * stmax_) warn = "WARNING: XTOL TEST SATISFIED";
    if (stp == stpmax_ && f <= ftest && g <= gtest_) warn = "WARNING: STP = STPMAX";
    if (stp == stpmin_ && (f > ftest || g >= gtest_)) warn = "WARNING: STP = STPMIN";
    if (f <= ftest && std::fabs(g) <= gtol_ * (-ginit_)) return finish(Task::Converged, "CONVERGENCE");
    if (warn) return finish(Task::Warning, warn);

    if (stage_ == 1 && f <= fx_ && f > ftest) {
        // Modified function psi(stp) = f(stp) - f(0) - ftol stp f'(0) while no point is
        // known to satisfy the sufficient decrease and curvature conditions.
        const double fm = f - stp * gtest_;
        double fxm = fx_ - stx_ * gtest_, fym = fy_ - sty_ * gtest_;
        const double gm = g - gtest_;
        double gxm = gx_ - gtest_, gym = gy_ - gtest_;
        dcstep(stx_, fxm, gxm, sty_, fym, gym, stp, fm, gm, brackt_, stmin_, stmax_);
        fx_ = fxm + stx_ * gtest_;
        fy_ = fym + sty_ * gtest_;
        gx_ = gxm + gtest_;
        gy_ = gym + gtest_;
    } else {
        dcstep(stx_, fx_, gx_, sty_, fy_, gy_, stp, f, g, brackt_, stmin_, stmax_);
    }
    if (brackt_) {
        if (std::fabs(sty_ - stx_) >= kP66 * width1_) stp = stx_ + kP5 * (sty_ - stx_);
        width1_ = width_;
        width_ = std::fabs(sty_ - stx_);
    }
    if (brackt_) {
        stmin_ = std::min(stx_, sty_);
        stmax_ = std::max(stx_, sty_);
    } else {
        stmin_ = stp + kXtrapL * (stp - stx_);
        stmax_ = stp + kXtrapU * (stp - stx_);
    }
    stp = std::max(stp, stpmin_);
    stp = std::min(stp, stpmax_);
    if ((brackt_ && (stp <= stmin_ || stp >= stmax_)) ||
        (brackt_ && stmax_ - stmin_ <= xtol_ * stmax_))
        stp = stx_;
    stp_ = stp;
    message_ = "FG";
    return Task::Evaluate;
}

void dcstep(double& stx, double& fx, double& dx, double& sty, double& fy, double& dy,
            double& stp, double fp, double dp, bool& brackt, double stpmin, double stpmax) {
    const double sgnd = dp * (dx / std::fabs(dx));
    double stpf;
    if (fp > fx) {
        // Higher value: the minimum is bracketed. Cubic or the mean of cubic and quadratic.
        const double theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
        const double s = std::max({std::fabs(theta), std::fabs(dx), std::fabs(dp)});
        double gamma = s * std::sqrt((theta / s) * (theta / s) - (dx / s) * (dp / s));
        if (stp < stx) gamma = -gamma;
        const double p = (gamma - dx) + theta;
        const double q = ((gamma - dx) + gamma) + dp;
        const double r = p / q;
        const double stpc = stx + r * (stp - stx);
        const double stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2.0) * (stp - stx);
        if (std::fabs(stpc - stx) < std::fabs(stpq - stx))
            stpf = stpc;
        else
            stpf = stpc + (stpq - stpc) / 2.0;
        brackt = true;
    } else if (sgnd < 0) {
        // Derivatives of opposite sign: bracketed; cubic or secant step.
        const double theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
        const double s = std::max({std::fabs(theta), std::fabs(dx), std::fabs(dp)});
        double gamma = s * std::sqrt((theta / s) * (theta / s) - (dx / s) * (dp / s));
        if (stp > stx) gamma = -gamma;
        const double p = (gamma - dp) + theta;
        const double q = ((gamma - dp) + gamma) + dx;
        const double r = p / q;
        const double stpc = stp + r * (stx - stp);
        const double stpq = stp + (dp / (dp - dx)) * (stx - stp);
        stpf = (std::fabs(stpc - stp) > std::fabs(stpq - stp)) ? stpc : stpq;
        brackt = true;
    } else if (std::fabs(dp) < std::fabs(dx)) {
        // Same sign, derivative magnitude decreases.
        const double theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp;
        const double s = std::max({std::fabs(theta), std::fabs(dx), std::fabs(dp)});
        double gamma =
            s * std::sqrt(std::max(0.0, (theta / s) * (theta / s) - (dx / s) * (dp / s)));
        if (stp > stx) gamma = -gamma;
        const double p = (gamma - dp) + theta;
        const double q = (gamma + (dx - dp)) + gamma;
        const double r = p / q;
        double stpc;
        if (r < 0 && gamma != 0)
            stpc = stp + r * (stx - stp);
        else if (stp > stx)
            stpc = stpmax;
        else
            stpc = stpmin;
        const double stpq = stp + (dp / (dp - dx)) * (stx - stp);
        if (brackt) {
            stpf = (std::fabs(stpc - stp) < std::fabs(stpq - stp)) ? stpc : stpq;
            if (stp > stx)
                stpf = std::min(stp + kP66 * (sty - stp), stpf);
            else
                stpf = std::max(stp + kP66 * (sty - stp), stpf);
        } else {
            stpf = (std::fabs(stpc - stp) > std::fabs(stpq - stp)) ? stpc : stpq;
            stpf = std::min(stpmax, stpf);
            stpf = std::max(stpmin, stpf);
        }
    } else {
        // Same sign, derivative magnitude does not decrease.
        if (brackt) {
            const double theta = 3.0 * (fp - fy) / (sty - stp) + dy + dp;
            const double s = std::max({std::fabs(theta), std::fabs(dy), std::fabs(dp)});
            double gamma = s * std::sqrt((theta / s) * (theta / s) - (dy / s) * (dp / s));
            if (stp > sty) gamma = -gamma;
            const double p = (gamma - dp) + theta;
            const double q = ((gamma - dp) + gamma) + dy;
            const double r = p / q;
            stpf = stp + r * (sty - stp);
        } else if (stp > stx) {
            stpf = stpmax;
        } else {
            stpf = stpmin;
        }
    }
    if (fp > fx) {
        sty = stp;
        fy = fp;
        dy = dp;
    } else {
        if (sgnd < 0) {
            sty = stx;
            fy = fx;
            dy = dx;
        }
        stx = stp;
        fx = fp;
        dx = dp;
    }
    stp = stpf;
}

// ------------------------------------------------------------------------------------------
// Armijo backtracking
// ------------------------------------------------------------------------------------------

Armijo::Armijo(double c1, double shrink, double stpmin) : c1_(c1), shrink_(shrink), stpmin_(stpmin) {}

Task Armijo::start(double f0, double g0, double stp) {
    if (!(g0 < 0)) {
        message_ = "ERROR: INITIAL G .GE. ZERO";
        return Task::Error;
    }
    if (!(stp > 0) || !std::isfinite(f0)) {
        message_ = "ERROR: INVALID START";
        return Task::Error;
    }
    f0_ = f0;
    g0_ = g0;
    stp_ = stp;
    active_ = true;
    message_ = "FG";
    return Task::Evaluate;
}

Task Armijo::iterate(double f) {
    if (!active_) {
        message_ = "ERROR: ITERATE WITHOUT START";
        return Task::Error;
    }
    if (std::isfinite(f) && f <= f0_ + c1_ * stp_ * g0_) {
        active_ = false;
        message_ = "CONVERGENCE";
        return Task::Converged;
    }
    stp_ *= shrink_;
    if (stp_ < stpmin_) {
        active_ = false;
        message_ = "WARNING: STP < STPMIN";
        return Task::Warning;
    }
    return Task::Evaluate;
}

// ------------------------------------------------------------------------------------------
// Golden section
// ------------------------------------------------------------------------------------------

GoldenSection::GoldenSection(double xtol, int max_expansions)
    : xtol_(xtol), max_expansions_(max_expansions) {}

Task GoldenSection::ask(double stp) {
    stp_ = stp;
    message_ = "FG";
    return Task::Evaluate;
}

Task GoldenSection::done(Task task, const char* message) {
    phase_ = 0;
    stp_ = b_;
    message_ = message;
    return task;
}

Task GoldenSection::start(double f0, double stp) {
    if (!(stp > 0) || !std::isfinite(f0)) {
        message_ = "ERROR: INVALID START";
        return Task::Error;
    }
    a_ = 0;
    fa_ = f0;
    b_ = 0;
    fb_ = f0;
    expansions_ = 0;
    phase_ = 1;
    return ask(stp);
}

Task GoldenSection::iterate(double f) {
    if (!std::isfinite(f)) f = HUGE_VAL;  // a failed trial behaves like a very high value
    switch (phase_) {
        case 1:    // first trial
        case 2: {  // expanding beyond b
            if (f < fb_) {
                a_ = b_;
                fa_ = fb_;
                b_ = stp_;
                fb_ = f;
                if (++expansions_ > max_expansions_)
                    return done(Task::Warning, "WARNING: NO BRACKET FOUND");
                phase_ = 2;
                return ask(b_ + (b_ - a_) / kInvPhi);
            }
            c_ = stp_;
            fc_ = f;
            x1_ = c_ - kInvPhi * (c_ - a_);
            x2_ = a_ + kInvPhi * (c_ - a_);
            sections_ = 0;
            phase_ = 3;
            return ask(x1_);
        }
        case 3:
            f1_ = f;
            phase_ = 4;
            return ask(x2_);
        case 4:
            f2_ = f;
            break;
        case 5:
            f1_ = f;
            break;
        case 6:
            f2_ = f;
            break;
        default:
            message_ = "ERROR: ITERATE WITHOUT START";
            return Task::Error;
    }
    // Both probes x1 < x2 inside [a, c] are known: keep the best point, drop one end.
    if (f1_ < fb_) {
        b_ = x1_;
        fb_ = f1_;
    }
    if (f2_ < fb_) {
        b_ = x2_;
        fb_ = f2_;
    }
    const bool narrow = (b_ > 0 && c_ - a_ <= xtol_ * b_) || c_ - a_ <= 1e-15 * c_;
    if (narrow || ++sections_ > kMaxSections) {
        if (b_ > 0) return done(Task::Converged, "CONVERGENCE");
        return done(Task::Warning, "WARNING: NO DECREASE FOUND");
    }
    if (f1_ < f2_) {
        c_ = x2_;
        x2_ = x1_;
        f2_ = f1_;
        x1_ = c_ - kInvPhi * (c_ - a_);
        phase_ = 5;
        return ask(x1_);
    }
    a_ = x1_;
    x1_ = x2_;
    f1_ = f2_;
    x2_ = a_ + kInvPhi * (c_ - a_);
    phase_ = 6;
    return ask(x2_);
}

}  // namespace toposcape::optim
