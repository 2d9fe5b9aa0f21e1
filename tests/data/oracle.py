"""The compact oracle data of the tests: how it is packed, expanded and rebuilt.

tests/conftest.py loads this module (by path: tests/data is no package) for its fixtures
``suite_oracle`` and ``physics_oracle``. Run as a script, it rebuilds the two files from the
project's shared oracles:

    python tests/data/oracle.py [REFERENCE_DIR]

REFERENCE_DIR defaults to ``../shared/reference`` next to the repository. Reads
``problems_116.npz`` and ``physics_reference.npz`` there and writes, next to this module:

* ``problems_116.npz``: the boundary conditions of the 116 suite problems, exactly, packed:
  ``names``; ``meta`` (116, 3) = (W, H, density); ``fixed_dofs`` and ``force_index``
  concatenated over the problems and delta-encoded (each is sorted per problem, so the
  differences are small and compress well; ``np.cumsum`` restores them); ``force_value``
  concatenated; ``fixed_offsets`` / ``force_offsets`` (117,) delimit each problem's slice;
  ``mask_bits``: all masks, flattened in C order, concatenated and ``np.packbits``-ed.
* ``physics_reference.npz``: the physics oracle, every array exactly as given, except that
  ``logits_density`` (the design, which does not depend on the penalty: checked here) is
  stored once per problem instead of once per penalty.

Both are written with ``np.savez_compressed``. The script then expands them as the tests do
and checks that every array equals the original, dtype and shape included. This module needs
only NumPy (not toposcape, not pytest).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_REFERENCE = HERE.parents[2] / "shared" / "reference"
SUITE_FILE = HERE / "problems_116.npz"
PHYSICS_FILE = HERE / "physics_reference.npz"


def load(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz file."""
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


# --------------------------------------------------------------------------------------
# expanding (what the tests use)
# --------------------------------------------------------------------------------------
def expand_suite_oracle(packed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The packed suite oracle in the layout of shared/reference/problems_116.npz.

    Keys ``names`` and, per problem, ``{name}/meta`` (W, H, density), ``{name}/fixed_dofs``,
    ``{name}/force_index``, ``{name}/force_value`` and ``{name}/mask`` (uint8, (H, W)).
    """
    names = packed["names"]
    meta = packed["meta"]
    fixed = np.cumsum(packed["fixed_dofs"], dtype=packed["fixed_dofs"].dtype)
    index = np.cumsum(packed["force_index"], dtype=packed["force_index"].dtype)
    value = packed["force_value"]
    fo, lo = packed["fixed_offsets"], packed["force_offsets"]
    sizes = [int(w) * int(h) for w, h, _ in meta]
    masks = np.unpackbits(packed["mask_bits"], count=sum(sizes))
    mo = np.concatenate([[0], np.cumsum(sizes)])
    out = {"names": names}
    for k, name in enumerate(names):
        width, height = int(meta[k, 0]), int(meta[k, 1])
        out[f"{name}/fixed_dofs"] = fixed[fo[k] : fo[k + 1]]
        out[f"{name}/force_index"] = index[lo[k] : lo[k + 1]]
        out[f"{name}/force_value"] = value[lo[k] : lo[k + 1]]
        out[f"{name}/mask"] = masks[mo[k] : mo[k + 1]].reshape(height, width)
        out[f"{name}/meta"] = meta[k]
    return out


def expand_physics_oracle(packed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The packed physics oracle in the layout of shared/reference/physics_reference.npz.

    Keys ``names`` and, per problem and penalty ``p`` in (1, 3), ``{name}/p{p}/`` followed by
    ``logits_compliance``, ``logits_grad``, ``logits_density``, ``uniform_compliance`` and
    ``uniform_grad``.
    """
    out = {}
    for key, value in packed.items():
        parts = key.split("/")
        if parts[-1] == "logits_density":  # stored once: the design does not depend on p
            for penal in ("p1", "p3"):
                out[f"{parts[0]}/{penal}/logits_density"] = value
        else:
            out[key] = value
    return out


# --------------------------------------------------------------------------------------
# packing (rebuilding the files from shared/reference)
# --------------------------------------------------------------------------------------
def pack_suite(oracle: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    names = oracle["names"]

    def concat(key: str) -> tuple[np.ndarray, np.ndarray]:
        parts = [oracle[f"{name}/{key}"] for name in names]
        offsets = np.concatenate([[0], np.cumsum([p.size for p in parts])]).astype(np.int64)
        return np.concatenate(parts), offsets

    fixed, fixed_offsets = concat("fixed_dofs")
    index, force_offsets = concat("force_index")
    value, value_offsets = concat("force_value")
    assert np.array_equal(force_offsets, value_offsets)
    masks = np.concatenate([oracle[f"{name}/mask"].ravel() for name in names])
    assert masks.dtype == np.uint8 and np.all((masks == 0) | (masks == 1))
    return {
        "names": names,
        "meta": np.stack([oracle[f"{name}/meta"] for name in names]),
        "fixed_dofs": np.diff(fixed, prepend=0).astype(fixed.dtype),
        "fixed_offsets": fixed_offsets,
        "force_index": np.diff(index, prepend=0).astype(index.dtype),
        "force_value": value,
        "force_offsets": force_offsets,
        "mask_bits": np.packbits(masks.astype(bool)),
    }


def pack_physics(oracle: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {"names": oracle["names"]}
    for key, value in oracle.items():
        if key == "names":
            continue
        name, _, what = key.split("/")
        if what == "logits_density":
            first = oracle[f"{name}/p1/logits_density"]
            assert np.array_equal(value, first) and value.dtype == first.dtype, key
            out[f"{name}/logits_density"] = value
        else:
            out[key] = value
    return out


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert sorted(a) == sorted(b), set(a) ^ set(b)
    for key in a:
        assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape, key
        assert np.array_equal(a[key], b[key]), key


def main(reference: Path) -> None:
    for path, pack, expand in [
        (SUITE_FILE, pack_suite, expand_suite_oracle),
        (PHYSICS_FILE, pack_physics, expand_physics_oracle),
    ]:
        original = load(reference / path.name)
        np.savez_compressed(path, **pack(original))
        _assert_same(expand(load(path)), original)
        print(f"{path.name}: {path.stat().st_size} bytes, equal to {reference / path.name}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_REFERENCE)
