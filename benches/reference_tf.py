"""Same-run reference for the end-to-end CNN benchmark: the published method's structure.

This script is *not* part of the ``toposcape`` library and imports neither toposcape nor
torch. It is the baseline that ``benches/cnn_compare.py --reference`` runs in a child process
so that the end-to-end target ("at least 5x faster than the published implementation") is a
ratio measured on the same machine in the same run, not a comparison with a fixed number of
seconds taken on another day.

It follows the structure of the published reference implementation (Hoyer, Sohl-Dickstein and
Greydanus 2019, "Neural reparameterization improves structural optimization"), written here
from ``shared/specs/models.md``:

* the CNN of models.md (bilinear variant) as a Keras model in float32, called eagerly under a
  ``tf.GradientTape`` for every evaluation, its trainable variables flattened to and from one
  float64 vector around every call;
* the physics in float64, in one of two forms (``--physics``):

  - ``autograd`` (default, as published): the compliance written with ``autograd.numpy`` and
    differentiated by ``autograd``, with three hand-made primitives as in the published code:
    the volume offset found by bisection (implicit-function adjoint), the cone filter as a
    sparse matrix (transpose adjoint) and the sparse solve (SuperLU factorization of the
    free-DOF stiffness matrix built from COO entries, cached so that the adjoint solve reuses
    it; scikit-sparse's CHOLMOD, which the published code prefers, does not build here);
  - ``numpy``: ``reference_scipy.ScipyReference``, the same physics with hand-written adjoints
    and no tracing, a faster baseline than the published one;
* ``scipy.optimize.fmin_l_bfgs_b`` with ``m = 10``, ``maxfun`` = the evaluation budget,
  ``factr = 1``, ``pgtol = 1e-14`` (studies.md, section 1).

Usage (TensorFlow is not a toposcape dependency; install it where this runs)::

    pip install tensorflow-cpu==2.21.0 autograd
    python benches/reference_tf.py PROBLEM.npz --seeds 0 1 2 --evals 300

``PROBLEM.npz`` holds ``width``, ``height``, ``density``, ``fixed_dofs``, ``forces`` and
``mask`` (``cnn_compare.py`` writes it from the toposcape suite). Prints one JSON object:
wall seconds and final compliance per seed. With ``--serve`` it instead answers requests
``SEED EVALS`` read line by line from stdin with one JSON line each, so that a benchmark can
alternate reference and toposcape runs (``cnn_compare.py --interleaved``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import scipy.optimize

# Silence TensorFlow's start-up banner; keep its errors.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_scipy import ScipyReference  # noqa: E402


class AutogradPhysics:
    """Compliance of logits (H, W) differentiated by ``autograd`` (the published structure).

    Same physics as :class:`reference_scipy.ScipyReference` (whose element matrix, cone filter
    and bisection it reuses); only the differentiation differs.
    """

    def __init__(self, plain: ScipyReference) -> None:
        import autograd
        import autograd.extend
        import autograd.numpy as anp
        import scipy.sparse
        import scipy.sparse.linalg

        self.plain = plain
        nely, nelx = plain.nely, plain.nelx
        mask = plain.mask
        free_index = -np.ones(plain.ndof, dtype=np.int64)
        free_index[plain.free] = np.arange(plain.free.size)
        i_free, j_free = free_index[plain.iK], free_index[plain.jK]
        keep = (i_free >= 0) & (j_free >= 0)
        rows, cols = i_free[keep], j_free[keep]
        n_free = plain.free.size
        forces = plain.forces[plain.free]
        cache: dict = {}
        masked = np.flatnonzero(mask.ravel())
        n_void = mask.size - masked.size
        scatter = np.argsort(np.concatenate([masked, np.flatnonzero(~mask.ravel())]))

        @autograd.extend.primitive
        def offset(zm):
            return plain._offset(zm)

        def offset_vjp(b, zm):
            ds = plain_sigmoid(zm + b)
            ds = ds * (1 - ds)
            return lambda g: -g * ds / ds.sum()

        autograd.extend.defvjp(offset, offset_vjp)

        @autograd.extend.primitive
        def cone(x):
            return plain._filter(x)

        autograd.extend.defvjp(cone, lambda ans, x: lambda g: plain._filter(g, transpose=True))

        def factor(entries):
            key = entries.tobytes()
            if cache.get("key") != key:
                k = scipy.sparse.coo_matrix((entries, (rows, cols)), shape=(n_free,) * 2)
                cache["key"], cache["lu"] = key, scipy.sparse.linalg.splu(k.tocsc())
            return cache["lu"]

        @autograd.extend.primitive
        def solve(entries):
            return factor(entries).solve(forces)

        def solve_vjp(u, entries):
            def vjp(g):
                lam = factor(entries).solve(g)  # K is symmetric: the same factorization
                return -lam[rows] * u[cols]

            return vjp

        autograd.extend.defvjp(solve, solve_vjp)

        def plain_sigmoid(t):
            return 1 / (1 + np.exp(-t))

        ke = plain.KE.ravel()
        p = plain.penal

        def compliance(z):
            zm = anp.ravel(z)[masked]
            # tanh form: 1 / (1 + exp(-t)) overflows in its derivative for saturated t.
            xm = 0.5 * anp.tanh(0.5 * (zm + offset(zm))) + 0.5
            # Scatter the masked densities into the grid (zeros elsewhere) by a permutation.
            x = anp.reshape(anp.concatenate([xm, anp.zeros(n_void)])[scatter], (nely, nelx))
            xphys = cone(x)
            xe = anp.ravel(anp.transpose(xphys))  # column-major element order
            young = 1e-9 + xe**p * (1.0 - 1e-9)
            entries = anp.ravel(young[:, None] * ke[None, :])[keep]
            return anp.dot(forces, solve(entries))

        self._value_and_grad = autograd.value_and_grad(compliance)

    def value_and_grad(self, z: np.ndarray):
        return self._value_and_grad(np.asarray(z, dtype=np.float64))


def build_cnn(height: int, width: int, seed: int):
    """The reference CNN of models.md (bilinear upsampling), float32, as a Keras model."""
    import tensorflow as tf
    from tensorflow import keras

    latent_size, dense_channels = 128, 32
    resizes, filters = (1, 2, 2, 2, 1), (128, 64, 32, 16, 1)
    offset_scale = 10.0
    keras.utils.set_random_seed(seed)
    h0, w0 = height // 8, width // 8

    class AddOffset(keras.layers.Layer):
        def __init__(self, scale):
            super().__init__()
            self.scale = scale

        def build(self, input_shape):
            self.offset = self.add_weight(
                shape=tuple(input_shape[1:]), initializer="zeros", trainable=True
            )

        def call(self, x):
            return x + self.scale * self.offset

    def global_normalization(x):
        mean, variance = tf.nn.moments(x, axes=list(range(len(x.shape))))
        return (x - mean) * tf.math.rsqrt(variance + 1e-6)

    inputs = keras.Input((latent_size,), batch_size=1)
    units = h0 * w0 * dense_channels
    gain = float(np.sqrt(max(units / latent_size, 1)))
    net = keras.layers.Dense(units, kernel_initializer=keras.initializers.Orthogonal(gain))(inputs)
    net = keras.layers.Reshape((h0, w0, dense_channels))(net)
    for resize, n_filters in zip(resizes, filters, strict=True):
        net = keras.layers.Activation("tanh")(net)
        net = keras.layers.UpSampling2D(resize, interpolation="bilinear")(net)
        net = keras.layers.Lambda(global_normalization)(net)
        net = keras.layers.Conv2D(
            n_filters,
            5,
            padding="same",
            kernel_initializer=keras.initializers.VarianceScaling(
                1.0, "fan_in", "truncated_normal"
            ),
        )(net)
        net = AddOffset(offset_scale)(net)
    core = keras.Model(inputs, net)
    latent = tf.Variable(
        tf.random.normal((1, latent_size), dtype=tf.float32), trainable=True, name="latent"
    )
    return core, latent


def run_seed(problem: dict, seed: int, evals: int, physics_kind: str) -> tuple[float, float, dict]:
    """One L-BFGS run: wall seconds (model construction included), final loss, and SciPy's
    report (evaluations, iterations, stopping message)."""
    import tensorflow as tf

    start = time.perf_counter()
    height, width = int(problem["height"]), int(problem["width"])
    physics = ScipyReference(
        width,
        height,
        float(problem["density"]),
        problem["fixed_dofs"],
        problem["forces"],
        problem["mask"],
        penal=3.0,
    )
    if physics_kind == "autograd":
        physics = AutogradPhysics(physics)
    core, latent = build_cnn(height, width, seed)
    variables = [latent, *core.trainable_variables]
    shapes = [tuple(v.shape) for v in variables]
    sizes = [int(np.prod(s)) for s in shapes]
    splits = np.cumsum(sizes)[:-1]

    def flat(tensors) -> np.ndarray:
        return np.concatenate([np.asarray(t, dtype=np.float64).ravel() for t in tensors])

    def value_and_grad(x: np.ndarray):
        for var, part, shape in zip(variables, np.split(x, splits), shapes, strict=True):
            var.assign(part.reshape(shape).astype(np.float32))
        with tf.GradientTape() as tape:
            logits = tf.squeeze(core(latent), axis=[0, -1])
        loss, dlogits = physics.value_and_grad(np.asarray(logits, dtype=np.float64))
        grads = tape.gradient(
            logits, variables, output_gradients=tf.constant(dlogits, dtype=tf.float32)
        )
        return float(loss), flat(grads)

    x0 = flat(variables)
    _, loss, info = scipy.optimize.fmin_l_bfgs_b(
        value_and_grad, x0, m=10, maxfun=evals, factr=1, pgtol=1e-14
    )
    report = {"evals": int(info["funcalls"]), "steps": int(info["nit"]), "stop": str(info["task"])}
    return time.perf_counter() - start, float(loss), report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("problem", type=Path, help="npz file describing the problem")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--evals", type=int, default=300)
    parser.add_argument("--physics", choices=("autograd", "numpy"), default="autograd")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="TensorFlow intra-op threads (0: TensorFlow's default, as the published code ran)",
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="read one seed per line from stdin and answer each with a JSON line (after a "
        "first line with the TensorFlow version); --seeds is ignored. Lets a benchmark "
        "alternate reference and toposcape runs seed by seed in one session",
    )
    args = parser.parse_args()

    import tensorflow as tf

    if args.threads > 0:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    with np.load(args.problem) as data:
        problem = {key: data[key] for key in data.files}
    if args.serve:
        print(json.dumps({"tensorflow": tf.__version__, "physics": args.physics}), flush=True)
        for line in sys.stdin:
            if not line.strip():
                continue
            seed, evals = (int(v) for v in line.split())
            t, loss, report = run_seed(problem, seed, evals, args.physics)
            print(json.dumps({"seed": seed, "seconds": t, "loss": loss, **report}), flush=True)
        return
    seconds, losses, reports = [], [], []
    for seed in args.seeds:
        t, loss, report = run_seed(problem, seed, args.evals, args.physics)
        seconds.append(t)
        losses.append(loss)
        reports.append(report)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "losses": losses,
                "tensorflow": tf.__version__,
                "physics": args.physics,
                "runs": reports,
            }
        )
    )


if __name__ == "__main__":
    main()
