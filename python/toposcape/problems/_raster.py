"""Rasterizing primitives: exact ports of scikit-image's anti-aliased line and circle.

The load patterns of ``hoop`` and ``staircase``/``ramp`` are drawn with these, so they must
reproduce ``skimage.draw`` pixel for pixel and bit for bit (tests/test_problems.py checks it).
"""

from __future__ import annotations

import math

import numpy as np


# --------------------------------------------------------------------------------------
# drawing primitives (exact ports of scikit-image's line_aa and circle_perimeter_aa)
# --------------------------------------------------------------------------------------
def _line_aa(r0: int, c0: int, r1: int, c1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Anti-aliased line from ``(r0, c0)`` to ``(r1, c1)`` (Zingl's algorithm).

    Same pixels, order and float64 values as ``skimage.draw.line_aa``.

    Returns
    -------
    rr, cc : ndarray of intp, shape (n,)
    val : ndarray of float64, shape (n,), intensities in [0, 1]
    """
    rr: list[int] = []
    cc: list[int] = []
    val: list[float] = []
    dc = abs(c0 - c1)
    dr = abs(r0 - r1)
    err = dc - dr
    sign_c = 1 if c0 < c1 else -1
    sign_r = 1 if r0 < r1 else -1
    ed = 1.0 if dc + dr == 0 else math.sqrt(dc * dc + dr * dr)
    c, r = c0, r0
    while True:
        cc.append(c)
        rr.append(r)
        val.append(abs(err - dc + dr) / ed)
        err_prev, c_prev = err, c
        if 2 * err_prev >= -dc:
            if c == c1:
                break
            if err_prev + dr < ed:
                cc.append(c)
                rr.append(r + sign_r)
                val.append(abs(err_prev + dr) / ed)
            err -= dr
            c += sign_c
        if 2 * err_prev <= dr:
            if r == r1:
                break
            if dc - err_prev < ed:
                cc.append(c_prev + sign_c)
                rr.append(r)
                val.append(abs(dc - err_prev) / ed)
            err += dc
            r += sign_r
    return (
        np.array(rr, dtype=np.intp),
        np.array(cc, dtype=np.intp),
        1.0 - np.array(val, dtype=np.float64),
    )


def _circle_perimeter_aa(
    r_o: int, c_o: int, radius: int, shape: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Anti-aliased circle perimeter of centre ``(r_o, c_o)`` (Xiaolin Wu's algorithm).

    Same pixels, order and float64 values as ``skimage.draw.circle_perimeter_aa``;
    with ``shape`` given, pixels outside ``[0, shape[0]) x [0, shape[1])`` are dropped.

    Returns
    -------
    rr, cc : ndarray of intp, shape (n,)
    val : ndarray of float64, shape (n,), intensities in [0, 1]
    """
    x, y = 0, radius
    dceil_prev = 0.0
    rr = [y, x, y, x, -y, -x, -y, -x]
    cc = [x, y, -x, -y, x, y, -x, -y]
    val = [1.0] * 8
    while y > x + 1:
        x += 1
        dceil = math.sqrt(radius * radius - x * x)
        dceil = math.ceil(dceil) - dceil
        if dceil < dceil_prev:
            y -= 1
        rr.extend([y, y - 1, x, x, y, y - 1, x, x])
        cc.extend([x, x, y, y - 1, -x, -x, -y, 1 - y])
        rr.extend([-y, 1 - y, -x, -x, -y, 1 - y, -x, -x])
        cc.extend([x, x, y, y - 1, -x, -x, -y, 1 - y])
        val.extend([1 - dceil, dceil] * 8)
        dceil_prev = dceil
    rows = np.array(rr, dtype=np.intp) + r_o
    cols = np.array(cc, dtype=np.intp) + c_o
    vals = np.array(val, dtype=np.float64)
    if shape is not None:
        keep = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
        rows, cols, vals = rows[keep], cols[keep], vals[keep]
    return rows, cols, vals


def _last_occurrence(i: np.ndarray, j: np.ndarray, n_j: int) -> np.ndarray:
    """Positions of the last occurrence of each distinct ``(i, j)`` pair.

    Mirrors numpy's fancy assignment ``a[i, j] = v`` with repeated indices (last wins).
    """
    flat = i * n_j + j
    _, first_in_reversed = np.unique(flat[::-1], return_index=True)
    return flat.size - 1 - first_in_reversed
