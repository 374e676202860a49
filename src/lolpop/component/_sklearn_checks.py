"""Checks of a model read from a store, after skops built it and before anything in it runs.

The type allow-list (:mod:`lolpop.component._sklearn_types`) decides *what* a file may build; this
module decides whether what it built is *well-formed*. scikit-learn, scipy and numpy hand arrays
from a fitted model to compiled code that indexes them without bounds checks, trusting that
``fit`` made them consistent. A file from a shared store carries no such promise: a child index,
a class label, a support-vector count or a random generator's position that ``fit`` would never
produce crashes the reader (SIGSEGV, SIGFPE), spins forever, or reads and writes memory it does
not own on the first ``predict``.

So every object of a loaded model is checked here, and the file is refused with
:class:`~lolpop.exceptions.InvalidInputError` naming the type and what is wrong. Each allowed type
whose compiled code indexes arrays from the file has a check below, covering every array that
code indexes (ranges, shapes, dtypes, trees without cycles):

* decision trees, forests, gradient boosting, histogram gradient boosting, KD and ball trees with
  their distance metrics: :mod:`lolpop.component._sklearn_trees`;
* nearest-neighbors estimators (``_fit_X``, ``_y``, ``_tree``), libsvm models (``SVC``, ``NuSVC``,
  ``SVR``, ``NuSVR``), ``KMeans`` / ``MiniBatchKMeans`` centers, and the encoders that build a
  sparse matrix from their fitted indices (``OneHotEncoder``, ``DictVectorizer``,
  ``MultiLabelBinarizer``): below;
* for every object: scipy sparse matrices (index ranges), numpy random states (positions in their
  key buffers), and each estimator's parameters against scikit-learn's own constraints (compiled
  code divides by or allocates from some of them), read from the class, which the file cannot
  shadow.

Other allowed estimators run numpy / scipy calls that check shapes and indices themselves, or hand
compiled code only arrays they size themselves (``NMF``, ``LatentDirichletAllocation``,
``PolynomialFeatures``, ...).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from lolpop.component._sklearn_trees import (
    _is_int,
    binary_tree_problem,
    bin_mapper_problem,
    ensemble_problem,
    gradient_boosting_problem,
    hist_gradient_boosting_problem,
    members,
    tree_problem,
)
from lolpop.exceptions import InvalidInputError


class _Walk:
    """Objects that only make sense inside an owner (a ``Tree`` in an estimator's ``tree_``, a
    ``TreePredictor`` in a histogram-boosting estimator) are checked by their owner, which records
    them here; one found anywhere else is refused."""

    def __init__(self) -> None:
        self.owned: set[int] = set()


# -- the walk -------------------------------------------------------------------------------
def _objects(obj: Any) -> list[Any]:
    """Every object reachable from ``obj`` (containers, object arrays, instance attributes)."""
    seen: set[int] = set()
    found: list[Any] = []
    stack = [obj]
    while stack:  # iterative: a crafted file may nest deeper than Python's recursion limit
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        found.append(node)
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, (list, tuple, set, frozenset)):
            stack.extend(node)
        elif isinstance(node, np.ndarray):
            if node.dtype == object:
                stack.extend(node.ravel())
        else:
            attrs = getattr(node, "__dict__", None)
            if isinstance(attrs, dict):
                stack.extend(attrs.values())
    return found


def check_model(obj: Any, where: str) -> None:
    """Refuse ``obj`` (a model skops just built from a file) unless every object in it is
    well-formed for the compiled code that will read it.

    Raises:
        InvalidInputError: names the type and what is wrong (the first problem found).
    """
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.tree._tree import Tree

    walk = _Walk()
    objects = _objects(obj)
    for node in objects:
        for kind, check in _checks_for(node):
            problem = check(node, walk)
            if problem:
                subject = f"the tree of a {type(node).__name__}" if kind == "tree" else f"a {_type_name(node)}"
                raise InvalidInputError(f"{where}: {subject} is malformed ({problem})")
    for node in objects:
        if isinstance(node, (Tree, TreePredictor)) and id(node) not in walk.owned:
            raise InvalidInputError(
                f"{where}: a {_type_name(node)} is malformed (it is only loaded as part of the estimator that runs it)")


def _type_name(node: Any) -> str:
    return type(node).__name__


def _checks_for(node: Any) -> list[tuple[str, Callable[[Any, _Walk], str | None]]]:
    """The checks that apply to ``node`` (a list of ``(kind, check)``)."""
    import scipy.sparse as sp
    from sklearn.base import BaseEstimator
    from sklearn.metrics import DistanceMetric

    if sp.issparse(node):
        return [("sparse", _sparse_problem)]
    if isinstance(node, (np.random.RandomState, np.random.Generator)):
        return [("random", _random_problem)]
    if isinstance(node, DistanceMetric):
        return [("metric", lambda n, w: "a distance metric is only loaded as part of a KD or ball tree")]
    checks: list[tuple[str, Callable[[Any, _Walk], str | None]]] = []
    for base, kind, check in _typed_checks():
        if isinstance(node, base):
            checks.append((kind, check))
    if isinstance(node, BaseEstimator):
        checks.append(("params", _params_problem))
    return checks


@functools.cache
def _typed_checks() -> list[tuple[type | tuple[type, ...], str, Callable[[Any, _Walk], str | None]]]:
    """(type, kind, check) for every check that applies to instances of a type."""
    from sklearn.base import BaseEstimator
    from sklearn.cluster._kmeans import _BaseKMeans
    from sklearn.ensemble._gb import BaseGradientBoosting
    from sklearn.ensemble._hist_gradient_boosting.binning import _BinMapper
    from sklearn.ensemble._hist_gradient_boosting.gradient_boosting import BaseHistGradientBoosting
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.neighbors import BallTree, KDTree
    from sklearn.neighbors._base import NeighborsBase
    from sklearn.preprocessing import MultiLabelBinarizer, OneHotEncoder
    from sklearn.svm._base import BaseLibSVM
    from sklearn.tree._classes import BaseDecisionTree

    return [
        (BaseDecisionTree, "tree", _decision_tree_problem),
        (BaseEstimator, "estimator", lambda n, w: ensemble_problem(n)),
        (BaseGradientBoosting, "estimator", _fitted(gradient_boosting_problem, "estimators_")),
        (BaseHistGradientBoosting, "estimator", _hist_gradient_boosting_problem),
        (_BinMapper, "estimator", lambda n, w: bin_mapper_problem(n)),
        ((KDTree, BallTree), "estimator", lambda n, w: binary_tree_problem(n)),
        (NeighborsBase, "estimator", _fitted(_neighbors_problem, "_fit_method")),
        (BaseLibSVM, "estimator", _fitted(_libsvm_problem, "support_")),
        (_BaseKMeans, "estimator", _fitted(_kmeans_problem, "cluster_centers_")),
        (OneHotEncoder, "estimator", _fitted(_one_hot_problem, "categories_")),
        (DictVectorizer, "estimator", _fitted(_dict_vectorizer_problem, "vocabulary_")),
        (MultiLabelBinarizer, "estimator", _fitted(_multilabel_problem, "classes_")),
    ]


def _fitted(check: Callable[[Any], str | None], attribute: str) -> Callable[[Any, _Walk], str | None]:
    """``check`` for a fitted object; an unfitted one refuses to predict before compiled code runs."""
    return lambda node, walk: check(node) if attribute in vars(node) else None


def _decision_tree_problem(estimator: Any, walk: _Walk) -> str | None:
    from sklearn.tree._tree import Tree

    tree = vars(estimator).get("tree_")
    if tree is None:
        return None
    if not isinstance(tree, Tree):
        return f"its tree_ is a {type(tree).__name__}"
    walk.owned.add(id(tree))
    return tree_problem(tree, vars(estimator).get("n_features_in_"))


def _hist_gradient_boosting_problem(estimator: Any, walk: _Walk) -> str | None:
    problem = hist_gradient_boosting_problem(estimator)
    if problem is None:
        for predictor in members(vars(estimator).get("_predictors", [])):
            walk.owned.add(id(predictor))
    return problem


# -- every object ----------------------------------------------------------------------------
def _sparse_problem(matrix: Any, walk: _Walk) -> str | None:
    """scipy builds a sparse matrix from a file checking lengths only; its C++ routines (products,
    ``toarray``) then index with ``indices`` / ``indptr`` (or coordinates) as they are."""
    fmt = matrix.format
    if fmt in ("csr", "csc"):
        try:
            matrix.check_format(full_check=True)
        except ValueError as exc:
            return str(exc)
        return None
    if fmt == "coo":
        for axis, idx in enumerate(matrix.coords):
            if idx.size and (idx.min() < 0 or idx.max() >= matrix.shape[axis]):
                return f"an index on axis {axis} is out of range"
        return None
    return f"lolpop does not load {fmt} sparse matrices"


#: Where each numpy bit generator's state points into its own buffer: (key, length of the buffer).
_POSITIONS = {"MT19937": ("pos", 624), "Philox": ("buffer_pos", 4)}


def _random_problem(rng: Any, walk: _Walk) -> str | None:
    """numpy draws from a generator's key buffer at the position its state records, without
    checking it against the buffer's length."""
    state = rng.get_state(legacy=False) if isinstance(rng, np.random.RandomState) else rng.bit_generator.state
    name = state.get("bit_generator")
    if name in _POSITIONS:
        key, length = _POSITIONS[name]
        inner = state["state"] if name == "MT19937" else state
        position = inner.get(key)
        if not (_is_int(position) and 0 <= position <= length):
            return f"its {name} state points at {key} {position}, outside its {length}-word buffer"
    return None


def _params_problem(estimator: Any, walk: _Walk) -> str | None:
    """Parameters go straight to compiled code at predict time (``FeatureHasher(n_features=0)``
    divides by zero): each must meet scikit-learn's own constraints, read from the class."""
    from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints

    cls = type(estimator)
    try:
        params = estimator.get_params(deep=False)
    except AttributeError as exc:
        return f"a parameter is missing ({exc})"
    # A class attribute (the constraints themselves, libsvm's _impl, ...) shadowed by the file
    # changes what scikit-learn runs; constructor parameters are instance data by design.
    shadowed = sorted(k for k in vars(estimator) if hasattr(cls, k) and k not in params)
    if shadowed:
        return f"it overrides class attribute(s) {', '.join(shadowed)}"
    constraints = getattr(cls, "_parameter_constraints", None)
    if not isinstance(constraints, dict):
        return None
    try:
        validate_parameter_constraints(constraints, params, caller_name=cls.__name__)
    except InvalidParameterError as exc:
        return str(exc)
    return None


# -- nearest neighbors -------------------------------------------------------------------------
def _neighbors_problem(est: Any) -> str | None:
    """Brute force runs compiled distance reductions over ``_fit_X`` against input validated for
    ``n_features_in_``; the classifiers then count votes at ``_y[neighbor]`` in an array of
    ``len(classes_)``; graphs are sparse matrices ``n_samples_fit_`` wide built from neighbor
    indices."""
    import scipy.sparse as sp
    from sklearn.neighbors import BallTree, KDTree, KNeighborsClassifier

    attrs = vars(est)
    method, fit_X, tree = attrs.get("_fit_method"), attrs.get("_fit_X"), attrs.get("_tree")
    if method not in ("brute", "kd_tree", "ball_tree"):
        return f"its _fit_method is {method!r}"
    if not ((isinstance(fit_X, np.ndarray) or sp.issparse(fit_X)) and fit_X.ndim == 2):
        return "its _fit_X is not a 2-d array"
    n_samples, n_features = fit_X.shape
    if attrs.get("n_samples_fit_") != n_samples or n_samples < 1:
        return f"n_samples_fit_ says {attrs.get('n_samples_fit_')}, _fit_X holds {n_samples} rows"
    if attrs.get("n_features_in_") != n_features:
        return f"n_features_in_ says {attrs.get('n_features_in_')}, _fit_X has {n_features} columns"
    expected = {"brute": type(None), "kd_tree": KDTree, "ball_tree": BallTree}[method]
    if type(tree) is not expected:
        return f"a {method} model holds a {type(tree).__name__} as its tree"
    if tree is not None and np.shape(tree.data) != fit_X.shape:
        return "its tree holds other data than _fit_X"
    k = getattr(est, "n_neighbors", None)
    # Brute-force predict_proba hands n_neighbors to the compiled vote without the check kneighbors makes.
    if isinstance(est, KNeighborsClassifier) and not (_is_int(k) and 1 <= k <= n_samples):
        return f"n_neighbors is {k}, it holds {n_samples} points"
    if "_y" in attrs and hasattr(est, "classes_"):
        return _labels_problem(attrs["_y"], attrs.get("classes_"), bool(attrs.get("outputs_2d_")), n_samples)
    if "_y" in attrs and np.shape(attrs["_y"])[:1] != (n_samples,):
        return f"_y does not hold one target per point ({n_samples})"
    return None


def _labels_problem(y: Any, classes: Any, outputs_2d: bool, n_samples: int) -> str | None:
    if not (isinstance(y, np.ndarray) and y.dtype == np.intp):
        return "_y is not an array of class indices"
    columns = [classes] if not outputs_2d else list(classes) if isinstance(classes, list) else None
    if columns is None or y.shape != ((n_samples,) if not outputs_2d else (n_samples, len(columns))):
        return f"_y does not hold one class index per point ({n_samples}) and output"
    y2 = y.reshape(n_samples, -1)
    for k, classes_k in enumerate(columns):
        if y2.size and (y2[:, k].min() < 0 or y2[:, k].max() >= len(classes_k)):
            return f"a class index in _y is out of range (there are {len(classes_k)} classes)"
    return None


# -- libsvm ------------------------------------------------------------------------------------
def _libsvm_problem(svm: Any) -> str | None:
    """libsvm builds its model from these arrays by length and pointer arithmetic: ``l`` support
    vectors from ``support_``, ``nr_class`` from ``_n_support``, ``nr_class - 1`` rows of ``l``
    dual coefficients, ``nr_class * (nr_class - 1) / 2`` intercepts (and Platt parameters), and
    the support vectors' rows (or, for a precomputed kernel, input columns ``support_``)."""
    import scipy.sparse as sp
    from sklearn.svm._base import LIBSVM_IMPL

    attrs = vars(svm)
    svm_type = LIBSVM_IMPL.index(type(svm)._impl)
    support, n_support = attrs.get("support_"), attrs.get("_n_support")
    for name, value in (("support_", support), ("_n_support", n_support)):
        if not (isinstance(value, np.ndarray) and value.dtype == np.int32 and value.ndim == 1 and value.flags.c_contiguous):
            return f"{name} is not a 1-d int32 array"
    n_sv, nr_class = support.shape[0], n_support.shape[0]
    if svm_type < 2:
        n_classes = len(attrs.get("classes_", ()))
        if nr_class != n_classes or nr_class < 2:
            return f"_n_support counts {nr_class} classes, classes_ has {n_classes}"
        if np.any(n_support < 0) or int(n_support.sum()) != n_sv:
            return f"_n_support adds up to {int(n_support.sum())}, support_ holds {n_sv} vectors"
    elif nr_class != 2 or n_support[0] != n_sv:
        return f"_n_support is {n_support.tolist()} for {n_sv} support vectors"
    pairs = nr_class * (nr_class - 1) // 2
    intercept = attrs.get("_intercept_")
    if not (isinstance(intercept, np.ndarray) and intercept.dtype == np.float64 and intercept.shape == (pairs,)):
        return f"_intercept_ is not {pairs} float64 values"
    prob_a, prob_b = attrs.get("_probA"), attrs.get("_probB")
    for name, value in (("_probA", prob_a), ("_probB", prob_b)):
        if not (isinstance(value, np.ndarray) and value.dtype == np.float64 and value.shape in ((0,), (pairs,))):
            return f"{name} is not empty nor {pairs} float64 values"
    if prob_a.shape != prob_b.shape:
        return "_probA and _probB differ in length"
    dual = attrs.get("_dual_coef_")
    sv = attrs.get("support_vectors_")
    sparse = attrs.get("_sparse")
    n_features, shape_fit = attrs.get("n_features_in_"), attrs.get("shape_fit_")
    if not (isinstance(shape_fit, tuple) and len(shape_fit) == 2 and all(_is_int(v) for v in shape_fit)):
        return "shape_fit_ is not (n_samples, n_features)"
    precomputed = svm.kernel == "precomputed"
    if sparse is True:
        if precomputed:
            return "a sparse model with a precomputed kernel"  # libsvm reads input at SV values
        if not (sp.issparse(sv) and sv.format == "csr" and sv.shape == (n_sv, n_features)):
            return f"support_vectors_ is not a {n_sv} x {n_features} CSR matrix"
        if not (sp.issparse(dual) and dual.shape == (nr_class - 1, n_sv) and dual.data.dtype == np.float64
                and dual.data.shape == ((nr_class - 1) * n_sv,)):
            return f"_dual_coef_ does not hold {nr_class - 1} x {n_sv} coefficients"
        return None
    if sparse is not False:
        return "_sparse is not a bool"
    if not (isinstance(dual, np.ndarray) and dual.dtype == np.float64 and dual.shape == (nr_class - 1, n_sv)
            and dual.flags.c_contiguous):
        return f"_dual_coef_ is not {nr_class - 1} x {n_sv} float64 values"
    if not (isinstance(sv, np.ndarray) and sv.dtype == np.float64 and sv.ndim == 2 and sv.flags.c_contiguous):
        return "support_vectors_ is not a 2-d float64 array"
    if precomputed:
        if n_sv and (support.min() < 0 or support.max() >= shape_fit[0]):
            return f"a support_ index is out of range (the kernel has {shape_fit[0]} columns)"
    elif sv.shape != (n_sv, n_features):
        return f"support_vectors_ is {sv.shape}, not {n_sv} x {n_features}"
    return None


# -- k-means -----------------------------------------------------------------------------------
def _kmeans_problem(km: Any) -> str | None:
    """``predict`` / ``score`` run BLAS and Cython over ``cluster_centers_`` rows as wide as the
    (validated) input."""
    centers, n_features = vars(km).get("cluster_centers_"), vars(km).get("n_features_in_")
    if not (isinstance(centers, np.ndarray) and centers.dtype in (np.float32, np.float64) and centers.ndim == 2
            and centers.flags.c_contiguous):
        return "cluster_centers_ is not a 2-d float array"
    if centers.shape[0] < 1 or centers.shape[1] != n_features:
        return f"cluster_centers_ is {centers.shape}, the input has {n_features} features"
    return None


# -- encoders that build sparse matrices from fitted indices ------------------------------------
def _one_hot_problem(enc: Any) -> str | None:
    """``transform`` builds a CSR matrix whose column for feature ``i`` is its code (after the
    infrequent-category mapping and the drop) plus the widths ``_n_features_outs`` of the features
    before it, then ``toarray()`` writes at those columns."""
    attrs = vars(enc)
    categories = attrs.get("categories_")
    if not isinstance(categories, list) or not all(isinstance(c, np.ndarray) and c.ndim == 1 for c in categories):
        return "categories_ is not a list of 1-d arrays"
    n = len(categories)
    outs = attrs.get("_n_features_outs")
    if not (isinstance(outs, list) and len(outs) == n and all(_is_int(o) and o >= 0 for o in outs)):
        return f"_n_features_outs is not a list of {n} widths"
    infrequent = bool(attrs.get("_infrequent_enabled"))
    indices = attrs.get("_infrequent_indices") if infrequent else [None] * n
    mappings = attrs.get("_default_to_infrequent_mappings") if infrequent else [None] * n
    drop = attrs.get("_drop_idx_after_grouping")
    drops = [None] * n if drop is None else list(drop) if isinstance(drop, np.ndarray) and drop.shape == (n,) else None
    if drops is None or not (isinstance(indices, list) and len(indices) == n and isinstance(mappings, list)
                             and len(mappings) == n):
        return f"its infrequent-category or drop indices do not cover {n} features"
    for i in range(n):
        codes = np.arange(len(categories[i]))
        if indices[i] is not None:  # unknown values take the first infrequent code
            first = np.asarray(indices[i]).ravel()[:1]
            if first.size and not _is_int(first[0]):
                return f"feature {i} has a non-integer infrequent index"
            codes = np.concatenate([codes, first.astype(np.int64)])
        if mappings[i] is not None:
            mapping = np.asarray(mappings[i])
            if mapping.ndim != 1 or mapping.dtype.kind not in "iu":
                return f"feature {i} has a non-integer infrequent mapping"
            codes = mapping[codes[(codes >= 0) & (codes < mapping.size)]].astype(np.int64)
        if drops[i] is not None:
            if not _is_int(drops[i]):
                return f"feature {i} has a non-integer drop index"
            codes = codes[codes != drops[i]]
            codes = codes - (codes > drops[i])
        if codes.size and (codes.min() < 0 or codes.max() >= outs[i]):
            return f"feature {i} encodes to column {int(codes.max() if codes.max() >= outs[i] else codes.min())} " \
                   f"of its {outs[i]}"
    return None


def _dict_vectorizer_problem(vec: Any) -> str | None:
    """``transform`` puts each feature at column ``vocabulary_[name]`` of a matrix
    ``len(vocabulary_)`` wide."""
    vocabulary = vars(vec).get("vocabulary_")
    if not isinstance(vocabulary, dict):
        return "vocabulary_ is not a dict"
    return _positions_problem("vocabulary_", vocabulary, len(vocabulary))


def _multilabel_problem(mlb: Any) -> str | None:
    """``transform`` puts each label at column ``_cached_dict[label]`` of a matrix
    ``len(_cached_dict)`` wide (the cache is built from ``classes_`` when missing)."""
    cache = vars(mlb).get("_cached_dict")
    if cache is None:
        return None
    if not isinstance(cache, dict):
        return "_cached_dict is not a dict"
    return _positions_problem("_cached_dict", cache, len(vars(mlb)["classes_"]))


def _positions_problem(name: str, mapping: dict[Any, Any], width: int) -> str | None:
    values = list(mapping.values())
    if not all(_is_int(v) for v in values) or sorted(values) != list(range(width)):
        return f"{name} does not number its {len(values)} entries 0..{width - 1}"
    return None
