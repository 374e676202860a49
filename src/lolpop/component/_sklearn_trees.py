"""Structural checks of the tree structures in a model read from a store.

scikit-learn walks these in compiled code without bounds checks, so a crafted file that passes
the type allow-list with out-of-range values crashes the process, spins forever, or reads (or
writes) memory it does not own. Each function here returns what is wrong (a short phrase) or
``None``; :mod:`lolpop.component._sklearn_checks` calls them on every object of a loaded model
and refuses the file naming the type.

* ``sklearn.tree._tree.Tree`` (decision trees, forests, gradient boosting, ...): each child must
  come after its parent and inside the node array, each split must read a column the estimator
  validates its input for, and no path may be deeper than ``max_depth`` (it sizes the buffer of
  ``decision_path``). scikit-learn itself checks the node and value arrays' dtypes and shapes
  (``n_outputs`` x ``max_n_classes`` values per node) and caps ``node_count`` at the nodes held.
* ``GradientBoosting*``: ``predict_stages`` writes ``out[i, k]`` for every column ``k`` of
  ``estimators_`` into the raw predictions that the init estimator sized.
* ``HistGradientBoosting*``: each ``TreePredictor.nodes`` record is followed by index (``left``,
  ``right``, ``feature_idx``, ``bitset_idx``) until a leaf; ``_BinMapper`` arrays are read per
  feature.
* ``KDTree`` / ``BallTree``: an implicit binary heap (children of node ``i`` are ``2i+1`` and
  ``2i+2``) whose nodes hold ranges into ``idx_array``, which holds rows of ``data``; the distance
  metric stored with the tree reads its own weight vector or matrix for every coordinate.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_LEAF = -1


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


# -- sklearn.tree._tree.Tree --------------------------------------------------------------------
def tree_problem(tree: Any, n_features_in: Any) -> str | None:
    """What is wrong with ``tree`` (held by an estimator fitted on ``n_features_in`` columns)."""
    n = int(tree.node_count)  # Tree.__setstate__ caps it at the nodes the file holds
    left, right, feature = (np.asarray(a, dtype=np.int64) for a in
                            (tree.children_left, tree.children_right, tree.feature))
    if n < 1:
        return "it has no nodes"
    if not _is_int(n_features_in):  # without it, scikit-learn skips checking the input's width
        return "its estimator records no n_features_in_"
    if tree.n_features != n_features_in:
        return f"it splits on {tree.n_features} features, its estimator takes {n_features_in}"
    inner = np.flatnonzero(left != _LEAF)
    if np.any(right[left == _LEAF] != _LEAF):
        return "a leaf has a right child"
    for child in (left[inner], right[inner]):
        if np.any((child <= inner) | (child >= n)):
            return "a child node index is out of order or out of range"
    if np.any((feature[inner] < 0) | (feature[inner] >= tree.n_features)):
        return "a split reads a feature index out of range"
    # Children follow their parents, so walking level by level from the root ends; no node may
    # be reached twice, and no level may lie deeper than max_depth.
    reached = np.zeros(n, dtype=bool)
    reached[0] = True
    level, frontier = 0, np.array([0])
    while True:
        frontier = frontier[left[frontier] != _LEAF]
        if frontier.size == 0:
            break
        frontier = np.concatenate([left[frontier], right[frontier]])
        if np.any(reached[frontier]) or len(np.unique(frontier)) != frontier.size:
            return "a node has two parents"
        reached[frontier] = True
        level += 1
    if level > tree.max_depth:
        return f"it is {level} levels deep, its max_depth says {tree.max_depth}"
    return None


def members(value: Any) -> list[Any]:
    """The objects in ``value`` (a list, tuple or object array, nested), else ``[value]``."""
    if isinstance(value, np.ndarray) and value.dtype == object:
        return list(value.ravel())
    if isinstance(value, (list, tuple)):
        return [m for item in value for m in members(item)]
    return [value]


def ensemble_problem(estimator: Any) -> str | None:
    """Forests and boosting run their member trees without validating the input again: a member
    must not read more columns than the ensemble checks for."""
    from sklearn.tree._tree import Tree

    attrs = vars(estimator)
    n_in = attrs.get("n_features_in_")
    for member in members(attrs.get("estimators_", [])):
        m_in = getattr(member, "n_features_in_", None)
        if isinstance(getattr(member, "tree_", None), Tree) and not (_is_int(n_in) and _is_int(m_in) and m_in <= n_in):
            return f"a member tree reads {m_in} features, the ensemble takes {n_in}"
    return None


def gradient_boosting_problem(gb: Any) -> str | None:
    """``GradientBoosting*``: ``predict_stages`` adds tree ``estimators_[i, k]`` into column ``k``
    of the raw predictions, which have ``n_trees_per_iteration_`` columns (``init="zero"``) or as
    many as the init estimator predicts."""
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.tree import DecisionTreeRegressor

    estimators = vars(gb).get("estimators_")
    if not (isinstance(estimators, np.ndarray) and estimators.dtype == object and estimators.ndim == 2
            and estimators.size > 0):
        return "estimators_ is not a 2-d array of trees"
    width = estimators.shape[1]
    for member in estimators.ravel():
        if type(member) is not DecisionTreeRegressor:
            return f"estimators_ holds a {type(member).__name__}, not a DecisionTreeRegressor"
    if vars(gb).get("n_trees_per_iteration_") != width:
        return f"estimators_ has {width} trees per stage, n_trees_per_iteration_ says {vars(gb).get('n_trees_per_iteration_')}"
    classifier = hasattr(gb, "predict_proba")
    if classifier:
        n_classes = len(vars(gb).get("classes_", ()))
        if width != (1 if n_classes == 2 else n_classes):
            return f"{width} trees per stage for {n_classes} classes"
        if bool(getattr(vars(gb).get("_loss"), "is_multiclass", None)) != (n_classes > 2):
            return f"its loss does not fit {n_classes} classes"
    elif width != 1:
        return f"{width} trees per stage for a regressor"
    # The raw predictions the trees are added into: init_ sizes them.
    init = vars(gb).get("init_")
    if isinstance(init, str) and init == "zero":
        return None
    if classifier and type(init) is DummyClassifier:
        init_attrs = vars(init)
        if init_attrs.get("n_outputs_") != 1 or not np.array_equal(
                np.asarray(init_attrs.get("classes_"), dtype=object), np.asarray(gb.classes_, dtype=object)):
            return "its init estimator predicts other classes than the ensemble"
        prior = np.asarray(init_attrs.get("class_prior_"))
        if init_attrs.get("n_classes_") != n_classes or prior.shape != (n_classes,):
            return "its init estimator predicts other classes than the ensemble"
        return None
    if not classifier and type(init) is DummyRegressor:
        if vars(init).get("n_outputs_") != 1 or np.asarray(vars(init).get("constant_")).size != 1:
            return "its init estimator predicts more than one output"
        return None
    return f"its init estimator is a {type(init).__name__} (lolpop loads 'zero' or the default Dummy estimator)"


# -- HistGradientBoosting: TreePredictor and _BinMapper -------------------------------------------
def bin_mapper_problem(mapper: Any) -> str | None:
    """``_BinMapper.transform`` hands ``bin_thresholds_`` (a list read without bounds checks) and
    ``is_categorical_`` to compiled code for each of the ``n_bins_non_missing_`` features."""
    attrs = vars(mapper)
    if "n_bins_non_missing_" not in attrs:
        return None  # not fitted: nothing to run
    n_bins = np.asarray(attrs["n_bins_non_missing_"])
    thresholds, categorical = attrs.get("bin_thresholds_"), attrs.get("is_categorical_")
    if n_bins.ndim != 1:
        return "n_bins_non_missing_ is not a 1-d array"
    n = n_bins.shape[0]
    if not (isinstance(thresholds, list) and len(thresholds) == n):
        return f"bin_thresholds_ does not hold one array per feature ({n})"
    if not (isinstance(categorical, np.ndarray) and categorical.dtype == np.uint8 and categorical.shape == (n,)
            and categorical.flags.c_contiguous):
        return f"is_categorical_ is not a uint8 array of {n} flags"
    missing = attrs.get("missing_values_bin_idx_")
    if not (_is_int(missing) and 0 <= missing <= 255):
        return "missing_values_bin_idx_ is not a bin index (0-255)"
    for f, values in enumerate(thresholds):
        if not (isinstance(values, np.ndarray) and values.dtype == np.float64 and values.ndim == 1):
            return f"the bin thresholds of feature {f} are not a 1-d float64 array"
        # Categorical thresholds are raw category values set as bits of an 8-word (256-bit) bitset.
        if categorical[f] and (np.any(values != np.round(values)) or np.any((values < 0) | (values > 255))):
            return f"feature {f} has categories outside 0-255"
    return None


def _predictor_problem(predictor: Any, n_features: int, categorical: np.ndarray) -> str | None:
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    nodes = vars(predictor).get("nodes")
    if not (isinstance(nodes, np.ndarray) and nodes.dtype == PREDICTOR_RECORD_DTYPE and nodes.ndim == 1
            and nodes.size > 0):
        return "its nodes are not a 1-d array of predictor records"
    n = nodes.shape[0]
    inner = np.flatnonzero(nodes["is_leaf"] == 0)
    left, right = nodes["left"][inner].astype(np.int64), nodes["right"][inner].astype(np.int64)
    # Children come after their parent (the grower numbers nodes depth-first), so every walk
    # from the root ends; a node that is its own child, or a cycle, spins the walk forever.
    if np.any((left <= inner) | (left >= n) | (right <= inner) | (right >= n)):
        return "a child node index is out of order or out of range"
    features = nodes["feature_idx"][inner]
    if np.any((features < 0) | (features >= n_features)):
        return "a split reads a feature index out of range"
    split_categorical = nodes["is_categorical"][inner] != 0
    if np.any(~categorical[features[split_categorical]].astype(bool)):
        return "a categorical split is on a feature the bin mapper does not treat as categorical"
    bitsets = [vars(predictor).get(name) for name in ("raw_left_cat_bitsets", "binned_left_cat_bitsets")]
    for name, bitset in zip(("raw_left_cat_bitsets", "binned_left_cat_bitsets"), bitsets):
        if not (isinstance(bitset, np.ndarray) and bitset.dtype == np.uint32 and bitset.ndim == 2
                and bitset.shape[1] == 8 and bitset.flags.c_contiguous):
            return f"{name} is not an n x 8 uint32 array"
    n_bitsets = min(b.shape[0] for b in bitsets)
    if np.any(nodes["bitset_idx"][inner][split_categorical] >= n_bitsets):
        return "a categorical split reads a bitset index out of range"
    return None


def hist_gradient_boosting_problem(hgb: Any) -> str | None:
    """``HistGradientBoosting*``: every ``TreePredictor`` against the input width the estimator
    validates, and the bitsets of known categories the bin mapper builds at predict time."""
    from sklearn.ensemble._hist_gradient_boosting.binning import _BinMapper
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

    attrs = vars(hgb)
    if "_predictors" not in attrs:
        return None  # not fitted: predict refuses to run
    if attrs.get("_in_fit"):
        # _raw_predict then skips validating the input and walks it as pre-binned data.
        return "it is marked as being fitted (_in_fit)"
    if attrs.get("_preprocessor") is not None:
        # scikit-learn's own one calls a function (lolpop never stores those); anything else here
        # would decide the width of what the trees read.
        return "it holds a categorical preprocessor"
    n_features = attrs.get("n_features_in_")
    if not (_is_int(n_features) and n_features >= 1):
        return "it records no n_features_in_"
    mapper = attrs.get("_bin_mapper")
    if type(mapper) is not _BinMapper:
        return "its _bin_mapper is not a _BinMapper"
    problem = bin_mapper_problem(mapper)
    if problem:
        return f"its bin mapper: {problem}"
    categorical = vars(mapper).get("is_categorical_")
    if categorical is None or categorical.shape != (n_features,):
        return f"its bin mapper covers another number of features than {n_features}"
    k = attrs.get("n_trees_per_iteration_")
    if not (_is_int(k) and k >= 1):
        return "n_trees_per_iteration_ is not a positive integer"
    if hasattr(hgb, "predict_proba"):
        n_classes = len(attrs.get("classes_", ()))
        if k != (1 if n_classes <= 2 else n_classes):
            return f"{k} trees per iteration for {n_classes} classes"
    elif k != 1:
        return f"{k} trees per iteration for a regressor"
    if np.shape(attrs.get("_baseline_prediction")) != (1, k):
        return f"_baseline_prediction is not 1 x {k}"
    predictors = attrs["_predictors"]
    if not isinstance(predictors, list):
        return "_predictors is not a list"
    for i, iteration in enumerate(predictors):
        if not (isinstance(iteration, list) and len(iteration) == k):
            return f"iteration {i} does not hold {k} trees"
        for j, predictor in enumerate(iteration):
            if type(predictor) is not TreePredictor:
                return f"iteration {i} holds a {type(predictor).__name__}"
            problem = _predictor_problem(predictor, n_features, categorical)
            if problem:
                return f"tree {j} of iteration {i}: {problem}"
    return None


# -- KDTree / BallTree and their distance metrics -----------------------------------------------
#: Metric classes each tree builds with (scikit-learn's VALID_METRICS for KDTree and BallTree).
_KD_METRICS = frozenset({"EuclideanDistance64", "ManhattanDistance64", "ChebyshevDistance64", "MinkowskiDistance64"})
_BALL_METRICS = _KD_METRICS | frozenset({
    "BrayCurtisDistance64", "CanberraDistance64", "DiceDistance64", "HammingDistance64", "HaversineDistance64",
    "JaccardDistance64", "MahalanobisDistance64", "RogersTanimotoDistance64", "RussellRaoDistance64",
    "SEuclideanDistance64", "SokalMichenerDistance64", "SokalSneathDistance64",
})


def metric_problem(metric: Any, n_features: int) -> str | None:
    """A tree never validates its input against its metric: the metric's weights (``vec``) and
    matrix (``mat``) must cover every one of the ``n_features`` coordinates it reads."""
    name = type(metric).__name__
    _, vec, mat = metric.__getstate__()
    vec, mat = np.asarray(vec), np.asarray(mat)
    if name == "MahalanobisDistance64" and mat.shape != (n_features, n_features):
        return f"its Mahalanobis matrix is {mat.shape}, the data has {n_features} features"
    if name == "SEuclideanDistance64" and vec.shape != (n_features,):
        return f"its SEuclidean variances are {vec.shape}, the data has {n_features} features"
    if name == "MinkowskiDistance64" and vec.size and vec.shape != (n_features,):
        return f"its Minkowski weights are {vec.shape}, the data has {n_features} features"
    if name == "HaversineDistance64" and n_features != 2:
        return f"the haversine distance reads 2 features, the data has {n_features}"
    return None


def binary_tree_problem(tree: Any) -> str | None:
    """What is wrong with a ``KDTree`` or ``BallTree`` (the state its queries walk)."""
    from sklearn.neighbors import KDTree

    (data, idx_array, node_data, node_bounds, leaf_size, n_levels, n_nodes,
     _trims, _leaves, _splits, _calls, metric, sample_weight) = tree.__getstate__()
    n_samples, n_features = data.shape
    kd = isinstance(tree, KDTree)
    if type(metric).__name__ not in (_KD_METRICS if kd else _BALL_METRICS):
        return f"it measures with a {type(metric).__name__}"
    problem = metric_problem(metric, n_features)
    if problem:
        return problem
    if n_samples < 1:
        return "it holds no data"
    if not (_is_int(leaf_size) and leaf_size >= 1):  # queries divide by it
        return f"its leaf_size is {leaf_size}"
    if idx_array.shape != (n_samples,) or not np.array_equal(np.sort(idx_array), np.arange(n_samples)):
        return "idx_array is not a permutation of the data rows"
    m = node_data.shape[0]
    if n_nodes != m or m < 1 or not (_is_int(n_levels) and n_levels >= 1 and m == 2 ** n_levels - 1):
        return f"its {m} nodes do not make the {n_levels} levels (n_nodes {n_nodes}) it records"
    if node_bounds.shape != ((2 if kd else 1), m, n_features):
        return f"node_bounds is {node_bounds.shape}, not {(2 if kd else 1, m, n_features)}"
    start, end = node_data["idx_start"], node_data["idx_end"]
    if np.any((start < 0) | (start > end) | (end > n_samples)):
        return "a node's range of points is out of range"
    inner = np.flatnonzero(node_data["is_leaf"] == 0)
    if np.any(2 * inner + 2 >= m):
        return "a node that is not a leaf has no children"
    if sample_weight is not None and np.shape(sample_weight) != (n_samples,):
        return "its sample weights do not match its data"
    return None
