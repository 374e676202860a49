"""The scikit-learn classes lolpop builds from configuration, and the exact types a stored model
file may construct.

This is data decided here, in lolpop's source. A model file travels through a shared tracking
store, so nothing in it (nor in its ``MLmodel`` file) widens what it may construct:

* **estimator classes**: scikit-learn's own classifiers, regressors and transformers, read from
  its class registry (:func:`sklearn.utils.all_estimators`, classes only), minus
  :data:`EXCLUDED_ESTIMATORS`;
* **internal types**: :data:`INTERNAL_TYPES`, the non-estimator classes that the fitted state of
  those estimators holds (trees, losses, kernels, neighbor trees, ...), each named exactly;
* **data types**: :data:`DATA_TYPES`, containers, numpy arrays and scalars, sparse matrices;
* **value types**: :data:`VALUE_TYPES`, the only classes a file may hold *as a value* (e.g. a
  ``dtype=numpy.float64`` parameter): builtin and numpy scalar types — never an estimator class,
  since a class is a callable.

Functions are never allowed, under any name: a file naming one (``numpy.full_like``,
``subprocess.check_output`` under any alias) is refused.

Being on the list is not enough to be loaded: scikit-learn, scipy and numpy hand arrays from a
fitted model to compiled code that indexes them without bounds checks. A type is on this list only
if every array its compiled code indexes is checked before anything runs
(:mod:`lolpop.component._sklearn_checks`: trees and forests, gradient boosting, histogram gradient
boosting, KD and ball trees, nearest-neighbors estimators, libsvm models, k-means, the encoders
that build sparse matrices from fitted indices, sparse matrices, random generators, and every
estimator's parameters), or if its compiled code only sees arrays it sizes itself. Some types are
only accepted as part of the estimator whose checks cover them: a distance metric inside a
``KDTree`` / ``BallTree`` (the tree never validates its input against the metric), a ``Tree``
as an estimator's ``tree_``, a ``TreePredictor`` inside a histogram-boosting estimator.
"""

from __future__ import annotations

import functools

#: scikit-learn estimators lolpop does not build from configuration nor load from a store: each
#: holds a function in its parameters or fitted state (a stored function is code to run), or
#: cannot be written in the skops format at all.
EXCLUDED_ESTIMATORS: dict[str, str] = {
    "FunctionTransformer": "it applies a function given as a parameter",
    "TransformedTargetRegressor": "it applies functions given as parameters (func, inverse_func)",
    "SelectKBest": "it keeps its score_func, a function, in its state",
    "SelectPercentile": "it keeps its score_func, a function, in its state",
    "SelectFpr": "it keeps its score_func, a function, in its state",
    "SelectFdr": "it keeps its score_func, a function, in its state",
    "SelectFwe": "it keeps its score_func, a function, in its state",
    "GenericUnivariateSelect": "it keeps its score_func, a function, in its state",
    "FeatureAgglomeration": "it keeps its pooling_func, a function, in its state",
    "SplineTransformer": "its fitted state holds functions",
    "BisectingKMeans": "its fitted state holds functions",
    "Birch": "the skops format cannot hold it",
}

_KINDS = {"predictor": ["classifier", "regressor"], "transformer": ["transformer"]}

#: Non-estimator classes held by the fitted state of the allowed estimators (scikit-learn 1.4+).
INTERNAL_TYPES: frozenset[str] = frozenset({
    "sklearn.pipeline.Pipeline",
    # decision trees, forests, gradient boosting
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    # losses and link functions (gradient boosting, SGD, generalized linear models)
    "sklearn._loss.link.HalfLogitLink",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.LogLink",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.loss.AbsoluteError",
    "sklearn._loss.loss.ExponentialLoss",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfGammaLoss",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.HalfPoissonLoss",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn._loss.loss.HalfTweedieLoss",
    "sklearn._loss.loss.HalfTweedieLossIdentity",
    "sklearn._loss.loss.HuberLoss",
    "sklearn._loss.loss.PinballLoss",
    "sklearn._loss._loss.CyAbsoluteError",
    "sklearn._loss._loss.CyExponentialLoss",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss._loss.CyHalfGammaLoss",
    "sklearn._loss._loss.CyHalfMultinomialLoss",
    "sklearn._loss._loss.CyHalfPoissonLoss",
    "sklearn._loss._loss.CyHalfSquaredError",
    "sklearn._loss._loss.CyHalfTweedieLoss",
    "sklearn._loss._loss.CyHalfTweedieLossIdentity",
    "sklearn._loss._loss.CyHuberLoss",
    "sklearn._loss._loss.CyPinballLoss",
    "sklearn.linear_model._sgd_fast.EpsilonInsensitive",
    "sklearn.linear_model._sgd_fast.Hinge",
    "sklearn.linear_model._sgd_fast.ModifiedHuber",
    "sklearn.linear_model._sgd_fast.SquaredEpsilonInsensitive",
    "sklearn.linear_model._sgd_fast.SquaredHinge",
    # calibration, Gaussian processes (their default kernels), neural networks
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.calibration._TemperatureScaling",
    "sklearn.gaussian_process._gpc._BinaryGaussianProcessClassifierLaplace",
    "sklearn.gaussian_process.kernels.ConstantKernel",
    "sklearn.gaussian_process.kernels.Product",
    "sklearn.gaussian_process.kernels.RBF",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    # nearest neighbors: search trees and their distance metrics (a metric is only accepted inside
    # a tree, whose check covers it; not PyFuncDistance: it calls a function)
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._unsupervised.NearestNeighbors",
    *(f"sklearn.metrics._dist_metrics.{name}Distance{bits}"
      for bits in (32, 64)
      for name in ("BrayCurtis", "Canberra", "Chebyshev", "Dice", "Euclidean", "Hamming", "Haversine",
                   "Jaccard", "Kulsinski", "Mahalanobis", "Manhattan", "Matching", "Minkowski",
                   "RogersTanimoto", "RussellRao", "SEuclidean", "SokalMichener", "SokalSneath")),
})

#: numpy scalar types, by the names numpy 1.x and 2.x give them.
_NUMPY_SCALARS = frozenset(f"numpy.{name}" for name in (
    "bool", "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "longdouble", "complex64", "complex128", "clongdouble",
    "str_", "bytes_",
))

#: Classes a file may hold as a value (a parameter such as ``dtype=numpy.float64``, dict key types).
VALUE_TYPES: frozenset[str] = frozenset(
    {f"builtins.{name}" for name in ("str", "int", "float", "bool", "complex", "bytes", "NoneType")}
) | _NUMPY_SCALARS

#: Plain data: containers, arrays, scalars, random state, sparse matrices.
DATA_TYPES: frozenset[str] = VALUE_TYPES | frozenset({
    "builtins.dict", "builtins.list", "builtins.tuple", "builtins.set", "builtins.slice",
    "builtins.bytearray",
    "numpy.ndarray", "numpy.dtype", "numpy.random.mtrand.RandomState", "numpy.random._generator.Generator",
    *(f"scipy.sparse._{fmt}.{fmt}_{kind}" for fmt in ("csr", "csc", "coo") for kind in ("matrix", "array")),
})


#: The bit generators a stored ``numpy.random.Generator`` may name (numpy's own, by class name).
BIT_GENERATORS: frozenset[str] = frozenset({"MT19937", "PCG64", "PCG64DXSM", "Philox", "SFC64"})


def type_name(cls: type) -> str:
    """``"module.QualName"`` of ``cls``, as skops names it in a model file."""
    return f"{cls.__module__}.{cls.__qualname__}"


@functools.cache
def estimator_classes(kind: str) -> dict[str, type]:
    """Name -> class of scikit-learn's classes of ``kind`` (``"predictor"``: classifiers and
    regressors; ``"transformer"``) that lolpop builds and loads (all but the excluded ones)."""
    from sklearn.utils import all_estimators

    return {name: cls for name, cls in all_estimators(type_filter=_KINDS[kind])
            if isinstance(cls, type) and name not in EXCLUDED_ESTIMATORS}


@functools.cache
def allowed_types() -> frozenset[str]:
    """Every type a model file may construct (see the module docstring)."""
    estimators = {type_name(cls) for kind in _KINDS for cls in estimator_classes(kind).values()}
    return frozenset(estimators) | INTERNAL_TYPES | DATA_TYPES
