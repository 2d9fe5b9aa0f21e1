// Line searches as reverse-communication state machines: the caller evaluates the objective at
// the step the search asks for and feeds the values back, so the search never calls Python.
//
//   MoreThuente  the strong-Wolfe search of Moré and Thuente (1994), MINPACK-2's dcsrch/dcstep,
//                as L-BFGS-B drives it (ftol 1e-3, gtol 0.9, xtol 0.1 by default).
//   Armijo       backtracking until sufficient decrease.
//   GoldenSection  exact minimization along the line: bracketing, then golden-section search.
//
// A non-finite trial value makes every search back off towards the last good step.
#pragma once
#include <string>

namespace toposcape::optim {

enum class Task { Evaluate = 0, Converged = 1, Warning = 2, Error = 3 };

class MoreThuente {
public:
    MoreThuente(double ftol, double gtol, double xtol, double stpmin, double stpmax);
    // f0, g0: value and directional derivative at step 0 (g0 < 0); stp: first trial step.
    Task start(double f0, double g0, double stp);
    // f, g: value and directional derivative at the step last asked for.
    Task iterate(double f, double g);
    double step() const { return stp_; }
    const std::string& message() const { return message_; }

private:
    Task finish(Task task, const char* message);
    double ftol_, gtol_, xtol_, stpmin_, stpmax_;
    double stp_ = 0, finit_ = 0, ginit_ = 0, gtest_ = 0, width_ = 0, width1_ = 0;
    double stx_ = 0, fx_ = 0, gx_ = 0, sty_ = 0, fy_ = 0, gy_ = 0, stmin_ = 0, stmax_ = 0;
    bool brackt_ = false;
    int stage_ = 1;
    bool active_ = false;
    std::string message_;
};

// One safeguarded step of Moré-Thuente's interval update (MINPACK-2 dcstep).
void dcstep(double& stx, double& fx, double& dx, double& sty, double& fy, double& dy,
            double& stp, double fp, double dp, bool& brackt, double stpmin, double stpmax);

class Armijo {
public:
    // Accept the first step with f(stp) <= f0 + c1 stp g0; otherwise stp *= shrink.
    Armijo(double c1, double shrink, double stpmin);
    Task start(double f0, double g0, double stp);
    Task iterate(double f);
    double step() const { return stp_; }
    const std::string& message() const { return message_; }

private:
    double c1_, shrink_, stpmin_;
    double f0_ = 0, g0_ = 0, stp_ = 0;
    bool active_ = false;
    std::string message_;
};

class GoldenSection {
public:
    // Bracket a minimizer along the line by expanding from the first trial step (growth by the
    // golden ratio), then shrink the bracket by golden sections until its width is at most
    // xtol times the current best step. At the end step() is the best step evaluated and
    // best_value() its value.
    GoldenSection(double xtol, int max_expansions);
    Task start(double f0, double stp);
    Task iterate(double f);
    double step() const { return stp_; }
    double best_value() const { return fb_; }
    const std::string& message() const { return message_; }

private:
    Task ask(double stp);
    Task done(Task task, const char* message);
    double xtol_;
    int max_expansions_;
    int expansions_ = 0;
    static constexpr int kMaxSections = 200;
    int sections_ = 0;
    // 0 idle, 1 first trial, 2 expanding, 3/4 first left/right probe, 5/6 new left/right probe
    int phase_ = 0;
    double a_ = 0, fa_ = 0, b_ = 0, fb_ = 0, c_ = 0, fc_ = 0;  // bracket a < b < c
    double x1_ = 0, f1_ = 0, x2_ = 0, f2_ = 0;               // golden probes
    double stp_ = 0;
    std::string message_;
};

}  // namespace toposcape::optim
