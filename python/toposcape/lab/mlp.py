"""A one-hidden-layer MLP classifier as an Objective (``studies.md`` section 4).

:class:`MLPObjective` is the softmax cross-entropy of a small multilayer perceptron on a data
set that ships with scikit-learn (no download), with exact first derivatives (backpropagation)
and exact Hessian-vector products (Pearlmutter's R-operator), in vectorized float64 NumPy.
With ``batch_size`` set it is *stochastic* in the sense of :mod:`toposcape.optim.protocol`: it
has a ``select_batch(k)`` method, so every optimizer of :mod:`toposcape.optim` runs SGD-style
on seeded, reproducible minibatches.

>>> import toposcape as ts
>>> obj = ts.lab.MLPObjective("digits", hidden=16, batch_size=32, seed=3)
>>> traj = ts.optim.get("gd", lr=0.1).run(obj, max_steps=2000, max_evals=None)
>>> obj.accuracy(traj.theta), obj.train_loss(traj.theta)

The network
-----------
Inputs ``X`` (n, d) standardized with the training set's mean and standard deviation, labels
``y`` (n,) in ``0..C-1``, ``h`` hidden units with activation ``phi``::

    Z = X W1 + b1          (n, h)      W1: (d, h), b1: (h,)
    A = phi(Z)             (n, h)
    L = A W2 + b2          (n, C)      W2: (h, C), b2: (C,)
    loss = mean_i [ logsumexp(L_i) - L_i[y_i] ] + weight_decay / 2 (|W1|^2 + |W2|^2)

The flat parameter vector (``size = d h + h + h C + C``) is, in this order and C order:
``W1.ravel()`` (``W1[i, j]`` from input ``i`` to hidden unit ``j``), ``b1``, ``W2.ravel()``
(``W2[j, c]`` from unit ``j`` to class ``c``), ``b2``. :meth:`MLPObjective.unpack` and
:meth:`MLPObjective.pack` convert.

Symmetries
----------
Permuting the hidden units (columns of W1, entries of b1, rows of W2) leaves the network's
function unchanged, and so does flipping the sign of a unit's incoming weights, bias and
outgoing weights when ``phi`` is odd (tanh). :meth:`MLPObjective.canonical` picks one
representative of each such class; :meth:`MLPObjective.align` permutes (and flips) a network's
units to match a reference network's as closely as possible (Hungarian matching), so that
minima found from different seeds can be compared coordinate by coordinate.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .. import _validate
from ..errors import InvalidInputError

__all__ = ["DATASETS", "ACTIVATIONS", "MLPObjective", "load_dataset"]

#: The data sets that ship with scikit-learn, by name: (loader, description).
DATASETS = {
    "digits": ("load_digits", "8x8 handwritten digits: 1797 samples, 64 features, 10 classes"),
    "iris": ("load_iris", "iris flowers: 150 samples, 4 features, 3 classes"),
    "wine": ("load_wine", "wine cultivars: 178 samples, 13 features, 3 classes"),
    "breast_cancer": (
        "load_breast_cancer",
        "Wisconsin breast cancer: 569 samples, 30 features, 2 classes",
    ),
}

#: Hidden activations; ``odd`` ones also have the sign-flip symmetry.
ACTIVATIONS = ("tanh", "sigmoid", "softplus", "relu")
_ODD = {"tanh"}


@functools.cache
def _load(name: str) -> tuple[np.ndarray, np.ndarray]:
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, DATASETS[name][0])()
    X = np.ascontiguousarray(bunch.data, dtype=np.float64)
    _, y = np.unique(np.asarray(bunch.target), return_inverse=True)
    X.setflags(write=False)
    y = y.astype(np.int64)
    y.setflags(write=False)
    return X, y


def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` of a data set of :data:`DATASETS`: features (n, d) float64, labels (n,) int
    in ``0..C-1`` (read-only arrays, cached per process)."""
    name = _validate.lookup(
        name,
        list(DATASETS),
        "data set",
        hint="data sets that ship with scikit-learn: " + ", ".join(DATASETS),
    )
    return _load(name)


def _activation(name: str, Z: np.ndarray, order: int):
    """``phi(Z)`` and, up to ``order``, its first and second derivatives."""
    if name == "tanh":
        A = np.tanh(Z)
        if order == 0:
            return A, None, None
        d1 = 1.0 - A * A
        return A, d1, (-2.0 * A * d1 if order > 1 else None)
    if name == "sigmoid":
        A = 0.5 * (1.0 + np.tanh(0.5 * Z))  # overflow-free logistic
        if order == 0:
            return A, None, None
        d1 = A * (1.0 - A)
        return A, d1, (d1 * (1.0 - 2.0 * A) if order > 1 else None)
    if name == "softplus":
        A = np.logaddexp(0.0, Z)
        if order == 0:
            return A, None, None
        s = 0.5 * (1.0 + np.tanh(0.5 * Z))
        return A, s, (s * (1.0 - s) if order > 1 else None)
    # relu: the derivatives almost everywhere (the second is zero)
    A = np.maximum(Z, 0.0)
    if order == 0:
        return A, None, None
    d1 = (Z > 0.0).astype(np.float64)
    return A, d1, (np.zeros_like(Z) if order > 1 else None)


def _log_softmax(L: np.ndarray) -> np.ndarray:
    shifted = L - L.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


class MLPObjective:
    """Softmax cross-entropy of a one-hidden-layer MLP on a scikit-learn data set.

    Parameters
    ----------
    dataset : str
        One of :data:`DATASETS` (``"digits"``, ``"iris"``, ``"wine"``, ``"breast_cancer"``).
    hidden : int >= 1
        Hidden units ``h``.
    activation : str
        One of :data:`ACTIVATIONS`; ``"tanh"`` (odd) also has the sign-flip symmetry.
    test_fraction : float in (0, 1)
        Share of the samples held out as the test set (a stratified split).
    split_seed : int >= 0
        Seed of the train/test split (``sklearn.model_selection.train_test_split``); the
        split, and the standardization fitted on the training part, depend on it only.
    batch_size : int or None
        Minibatch size: the objective then evaluates on the batch picked by
        :meth:`select_batch` (see there). None: the whole training set, deterministic (and
        no ``select_batch`` attribute).
    seed : int >= 0
        Seed of the initial point :attr:`x0` (Glorot-uniform weights, zero biases, from
        ``np.random.default_rng([seed, 0, 1])``) and of the minibatch order.
    weight_decay : float >= 0
        ``lambda``: the loss gets ``lambda / 2 (|W1|^2 + |W2|^2)`` (biases are not decayed).

    Attributes
    ----------
    size : int
        ``d h + h + h C + C``.
    x0 : ndarray (size,)
        The seeded initial point.
    n_features, n_classes, hidden : int
        ``d``, ``C``, ``h``.
    X_train, y_train, X_test, y_test : ndarray
        The standardized split (``(n_train, d)``, ``(n_train,)``, ...).
    n_train, n_test : int
    batches_per_epoch : int
        ``ceil(n_train / batch_size)`` (1 without batching).

    Notes
    -----
    ``value_and_grad`` and ``hvp`` are exact (backpropagation; the R-operator of Pearlmutter,
    *Fast exact multiplication by the Hessian*, Neural Computation 6, 1994) on the current
    batch; for ``relu`` they are the derivatives almost everywhere.
    """

    def __new__(cls, *args: Any, **kwargs: Any):
        if cls is MLPObjective:
            batch_size = kwargs.get("batch_size", args[5] if len(args) > 5 else None)
            if batch_size is not None:
                cls = MinibatchMLPObjective
        return super().__new__(cls)

    def __init__(
        self,
        dataset: str = "digits",
        hidden: int = 16,
        activation: str = "tanh",
        test_fraction: float = 0.25,
        split_seed: int = 0,
        batch_size: int | None = None,
        seed: int = 0,
        weight_decay: float = 0.0,
    ) -> None:
        who = "MLPObjective"
        if not isinstance(dataset, str):
            raise TypeError(
                f"{who}: dataset must be a data set name, got {_validate.given(dataset)}"
            )
        try:
            X, y = load_dataset(dataset)
        except InvalidInputError as exc:
            raise type(exc)(f"{who}: {exc}") from None
        self.dataset = dataset
        self.hidden = _validate.integer(hidden, "hidden", minimum=1, who=who)
        if not isinstance(activation, str):
            raise TypeError(
                f"{who}: activation must be one of {', '.join(ACTIVATIONS)}, "
                f"got {_validate.given(activation)}"
            )
        self.activation = _validate.option(activation, "activation", ACTIVATIONS, who=who)
        self.test_fraction = _validate.real(
            test_fraction,
            "test_fraction",
            minimum=0.0,
            maximum=1.0,
            lower_open=True,
            upper_open=True,
            who=who,
        )
        self.split_seed = _validate.integer(split_seed, "split_seed", minimum=0, who=who)
        self.seed = _validate.integer(seed, "seed", minimum=0, who=who)
        self.weight_decay = _validate.real(weight_decay, "weight_decay", minimum=0.0, who=who)

        from sklearn.model_selection import train_test_split

        n_classes = int(y.max()) + 1
        n_test = int(np.ceil(self.test_fraction * y.size))
        if n_test < n_classes or y.size - n_test < n_classes:
            raise InvalidInputError(
                f"{who}: test_fraction={self.test_fraction:g} leaves {n_test} test and "
                f"{y.size - n_test} training samples of {y.size}; a stratified split needs at "
                f"least one per class ({n_classes}) on each side"
            )
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=self.test_fraction, random_state=self.split_seed, stratify=y
        )
        mean = X_train.mean(axis=0)
        std = X_train.std(axis=0)
        std[std == 0.0] = 1.0  # constant features (digits' border pixels) are only centred
        self.X_train = np.ascontiguousarray((X_train - mean) / std)
        self.X_test = np.ascontiguousarray((X_test - mean) / std)
        self.y_train = np.ascontiguousarray(y_train, dtype=np.int64)
        self.y_test = np.ascontiguousarray(y_test, dtype=np.int64)
        for a in (self.X_train, self.X_test, self.y_train, self.y_test):
            a.setflags(write=False)
        self.n_train, self.n_test = self.y_train.size, self.y_test.size
        self.n_features = X.shape[1]
        self.n_classes = n_classes
        d, h, c = self.n_features, self.hidden, self.n_classes
        self._shapes = ((d, h), (h,), (h, c), (c,))
        self._offsets = np.cumsum([0] + [int(np.prod(s)) for s in self._shapes])
        self.size = int(self._offsets[-1])

        self.batch_size = batch_size
        if batch_size is not None:
            self.batch_size = _validate.integer(batch_size, "batch_size", minimum=1, who=who)
            if self.batch_size > self.n_train:
                raise InvalidInputError(
                    f"{who}: batch_size must be at most the training set's size "
                    f"{self.n_train} ({dataset}, test_fraction={self.test_fraction:g}), "
                    f"got {self.batch_size}"
                )
            self.batches_per_epoch = -(-self.n_train // self.batch_size)
        else:
            self.batches_per_epoch = 1
        self._X, self._y = self.X_train, self.y_train
        self.batch_index: int | None = None

        rng = np.random.default_rng([self.seed, 0, 1])
        W1 = rng.uniform(-1.0, 1.0, (d, h)) * np.sqrt(6.0 / (d + h))
        W2 = rng.uniform(-1.0, 1.0, (h, c)) * np.sqrt(6.0 / (h + c))
        self.x0 = self.pack(W1, np.zeros(h), W2, np.zeros(c))
        self.x0.setflags(write=False)

    def __repr__(self) -> str:
        batch = "full batch" if self.batch_size is None else f"batch_size={self.batch_size}"
        return (
            f"{type(self).__name__}({self.dataset!r}, hidden={self.hidden}, "
            f"activation={self.activation!r}, {batch}, seed={self.seed}, size={self.size})"
        )

    # ---------------------------------------------------------------------------- layout
    def unpack(self, theta: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(W1 (d, h), b1 (h,), W2 (h, C), b2 (C,))``: views into ``theta`` (validated)."""
        theta = self._theta(theta, "unpack")
        o = self._offsets
        return tuple(theta[o[i] : o[i + 1]].reshape(s) for i, s in enumerate(self._shapes))

    def pack(self, W1: Any, b1: Any, W2: Any, b2: Any) -> np.ndarray:
        """The flat parameter vector (size,) of the four arrays (shapes as in :meth:`unpack`)."""
        parts = []
        for name, value, shape in zip(
            ("W1", "b1", "W2", "b2"), (W1, b1, W2, b2), self._shapes, strict=True
        ):
            parts.append(_validate.array(value, name, shape, who="pack").ravel())
        return np.concatenate(parts)

    def _theta(self, theta: Any, who: str) -> np.ndarray:
        return _validate.vector(theta, "theta", self.size, who=f"MLPObjective.{who}")

    def _split(self, split: str, who: str) -> tuple[np.ndarray, np.ndarray]:
        _validate.option(split, "split", ("train", "test"), who=f"MLPObjective.{who}")
        return (self.X_train, self.y_train) if split == "train" else (self.X_test, self.y_test)

    # ---------------------------------------------------------------------------- values
    def _decay(self, theta: np.ndarray) -> float:
        if self.weight_decay == 0.0:
            return 0.0
        W1, _, W2, _ = (theta[self._offsets[i] : self._offsets[i + 1]] for i in range(4))
        return 0.5 * self.weight_decay * (float(W1 @ W1) + float(W2 @ W2))

    def _decay_mask(self) -> np.ndarray:
        o = self._offsets
        mask = np.zeros(self.size)
        mask[o[0] : o[1]] = 1.0
        mask[o[2] : o[3]] = 1.0
        return mask

    def _forward(self, theta: np.ndarray, X: np.ndarray, order: int):
        W1, b1, W2, b2 = (
            theta[self._offsets[i] : self._offsets[i + 1]].reshape(s)
            for i, s in enumerate(self._shapes)
        )
        Z = X @ W1 + b1
        A, d1, d2 = _activation(self.activation, Z, order)
        L = A @ W2 + b2
        return W1, W2, Z, A, d1, d2, L

    def _cross_entropy(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
        *_, L = self._forward(theta, X, 0)
        return float(-np.mean(_log_softmax(L)[np.arange(y.size), y]))

    def value_and_grad(self, theta: Any) -> tuple[float, np.ndarray]:
        """Loss (mean cross-entropy + decay) on the current batch and its exact gradient.

        Parameters
        ----------
        theta : array_like (size,)

        Returns
        -------
        (float, ndarray (size,) float64)
        """
        theta = self._theta(theta, "value_and_grad")
        X, y = self._X, self._y
        n = y.size
        W1, W2, Z, A, d1, _, L = self._forward(theta, X, 1)
        logp = _log_softmax(L)
        rows = np.arange(n)
        loss = -float(np.mean(logp[rows, y])) + self._decay(theta)
        G = np.exp(logp)  # dloss/dL = (P - Y) / n
        G[rows, y] -= 1.0
        G /= n
        dZ = (G @ W2.T) * d1
        grad = np.concatenate(
            [(X.T @ dZ).ravel(), dZ.sum(axis=0), (A.T @ G).ravel(), G.sum(axis=0)]
        )
        if self.weight_decay:
            grad += self.weight_decay * self._decay_mask() * theta
        return loss, grad

    def hvp(self, theta: Any, v: Any) -> np.ndarray:
        """Exact Hessian-vector product ``H(theta) v`` on the current batch (R-operator).

        Parameters
        ----------
        theta, v : array_like (size,)

        Returns
        -------
        ndarray (size,) float64
        """
        theta = self._theta(theta, "hvp")
        v = _validate.vector(v, "v", self.size, who="MLPObjective.hvp")
        X, y = self._X, self._y
        n = y.size
        W1, W2, Z, A, d1, d2, L = self._forward(theta, X, 2)
        V1, c1, V2, c2 = (
            v[self._offsets[i] : self._offsets[i + 1]].reshape(s)
            for i, s in enumerate(self._shapes)
        )
        P = np.exp(_log_softmax(L))
        G = P.copy()
        G[np.arange(n), y] -= 1.0
        G /= n
        RZ = X @ V1 + c1
        RA = d1 * RZ
        RL = RA @ W2 + A @ V2 + c2
        RG = P * (RL - np.sum(P * RL, axis=1, keepdims=True)) / n
        dA = G @ W2.T
        RdA = RG @ W2.T + G @ V2.T
        RdZ = RdA * d1 + dA * d2 * RZ
        out = np.concatenate(
            [
                (X.T @ RdZ).ravel(),
                RdZ.sum(axis=0),
                (RA.T @ G + A.T @ RG).ravel(),
                RG.sum(axis=0),
            ]
        )
        if self.weight_decay:
            out += self.weight_decay * self._decay_mask() * v
        return out

    def train_loss(self, theta: Any) -> float:
        """Mean cross-entropy on the whole training set (no weight decay), in nats."""
        theta = self._theta(theta, "train_loss")
        return self._cross_entropy(theta, self.X_train, self.y_train)

    def test_loss(self, theta: Any) -> float:
        """Mean cross-entropy on the test set (no weight decay), in nats."""
        theta = self._theta(theta, "test_loss")
        return self._cross_entropy(theta, self.X_test, self.y_test)

    def predict(self, theta: Any, split: str = "test") -> np.ndarray:
        """Predicted classes (n,) on ``split`` (``"test"`` or ``"train"``)."""
        theta = self._theta(theta, "predict")
        X, _ = self._split(split, "predict")
        *_, L = self._forward(theta, X, 0)
        return np.argmax(L, axis=1)

    def accuracy(self, theta: Any, split: str = "test") -> float:
        """Fraction of correctly classified samples of ``split`` (``"test"`` or ``"train"``)."""
        _, y = self._split(split, "accuracy")
        return float(np.mean(self.predict(theta, split) == y))

    def full_batch(self) -> MLPObjective:
        """The same network, data and seed, deterministic: the whole training set every call
        (``self`` when it is already full batch)."""
        if self.batch_size is None:
            return self
        return MLPObjective(
            self.dataset,
            hidden=self.hidden,
            activation=self.activation,
            test_fraction=self.test_fraction,
            split_seed=self.split_seed,
            batch_size=None,
            seed=self.seed,
            weight_decay=self.weight_decay,
        )

    # ---------------------------------------------------------------------------- symmetry
    def _units(self, theta: np.ndarray) -> np.ndarray:
        """Each hidden unit's parameters as a row: ``[W1[:, j], b1[j], W2[j, :]]`` (h, d+1+C)."""
        W1, b1, W2, _ = self.unpack(theta)
        return np.concatenate([W1.T, b1[:, None], W2], axis=1)

    def _from_units(self, units: np.ndarray, b2: np.ndarray) -> np.ndarray:
        d = self.n_features
        return self.pack(units[:, :d].T, units[:, d], units[:, d + 1 :], b2)

    @property
    def sign_symmetric(self) -> bool:
        """Whether flipping a unit's signs is a symmetry (an odd activation: tanh)."""
        return self.activation in _ODD

    def canonical(self, theta: Any) -> np.ndarray:
        """One representative of ``theta``'s symmetry class (size,): the same function.

        For tanh, each unit's signs are flipped so that the sum of its outgoing weights
        ``W2[j, :].sum()`` is >= 0 (a unit whose sum is exactly 0 is flipped so that its first
        nonzero parameter is positive); then units are sorted by decreasing outgoing-weight
        sum (ties by the rest of the unit's parameters). The result is exactly the same for
        any permuted and sign-flipped copy of ``theta`` (ties aside), and its loss equals
        ``theta``'s to rounding (sums over hidden units run in another order).
        """
        theta = self._theta(theta, "canonical")
        units = self._units(theta).copy()
        key = units[:, self.n_features + 1 :].sum(axis=1)
        if self.sign_symmetric:
            flip = key < 0
            zero = key == 0
            if zero.any():
                first = np.array(
                    [u[np.flatnonzero(u)[0]] < 0 if np.any(u) else False for u in units]
                )
                flip |= zero & first
            units[flip] *= -1.0
            key = np.abs(key)
        # lexsort: last key is primary; decreasing outgoing sum, then the unit's parameters.
        order = np.lexsort((*units.T[::-1], -key))
        return self._from_units(units[order], self.unpack(theta)[3])

    def align(self, theta: Any, reference: Any) -> np.ndarray:
        """``theta`` with its hidden units permuted (and, for tanh, sign-flipped) to match
        ``reference``'s units as closely as possible; the same function as ``theta``.

        The matching minimizes ``sum_j |s_j u_pi(j) - r_j|^2`` over permutations ``pi`` and
        signs ``s_j`` (``u``, ``r``: each unit's parameters ``[W1[:, j], b1[j], W2[j, :]]``),
        solved exactly by the Hungarian algorithm (``scipy.optimize.linear_sum_assignment``)
        on the cost of the better sign for each pair.

        Parameters
        ----------
        theta, reference : array_like (size,)

        Returns
        -------
        ndarray (size,)
        """
        from scipy.optimize import linear_sum_assignment

        theta = self._theta(theta, "align")
        reference = _validate.vector(reference, "reference", self.size, who="MLPObjective.align")
        units, ref = self._units(theta), self._units(reference)
        # |u - r|^2 = |u|^2 + |r|^2 - 2 u.r ; with a flip the cross term changes sign.
        cross = ref @ units.T  # (h_ref, h_theta)
        base = (ref * ref).sum(axis=1)[:, None] + (units * units).sum(axis=1)[None, :]
        if self.sign_symmetric:
            cost = base - 2.0 * np.abs(cross)
        else:
            cost = base - 2.0 * cross
        rows, cols = linear_sum_assignment(cost)
        matched = units[cols[np.argsort(rows)]].copy()
        if self.sign_symmetric:
            signs = np.where(cross[rows, cols][np.argsort(rows)] < 0, -1.0, 1.0)
            matched *= signs[:, None]
        return self._from_units(matched, self.unpack(theta)[3])


class MinibatchMLPObjective(MLPObjective):
    """An :class:`MLPObjective` with ``batch_size`` set: stochastic, with :meth:`select_batch`.

    ``MLPObjective(..., batch_size=b)`` returns an instance of this class.
    """

    def select_batch(self, k: int) -> None:
        """Evaluate on batch ``k`` from now on (``value_and_grad`` and ``hvp``).

        Batch ``k`` is batch ``i = k % batches_per_epoch`` of epoch ``e = k //
        batches_per_epoch``: the training samples ``perm[i b : (i + 1) b]`` of the permutation
        ``perm = np.random.default_rng([seed, e]).permutation(n_train)`` (the last batch of an
        epoch is smaller when ``b`` does not divide ``n_train``). A pure function of ``seed``
        and ``k``: every epoch covers the training set exactly once, in any process.
        """
        k = _validate.integer(k, "k", minimum=0, who="MLPObjective.select_batch")
        index = self.batch_indices(k)
        self._X = self.X_train[index]
        self._y = self.y_train[index]
        self.batch_index = k

    def batch_indices(self, k: int) -> np.ndarray:
        """Indices into the training set of batch ``k`` (see :meth:`select_batch`)."""
        k = _validate.integer(k, "k", minimum=0, who="MLPObjective.batch_indices")
        epoch, i = divmod(k, self.batches_per_epoch)
        cached = getattr(self, "_perm", None)
        if cached is None or cached[0] != epoch:
            perm = np.random.default_rng([self.seed, epoch]).permutation(self.n_train)
            self._perm = cached = (epoch, perm)
        b = self.batch_size
        return cached[1][i * b : (i + 1) * b]
