"""Structural checks of the decision trees in a model read from a store.

scikit-learn's ``Tree`` (decision trees, random forests, gradient boosting) walks its node array
in compiled code without bounds checks: child indices, the feature index of each split, and the
recorded ``max_depth`` (which sizes the buffer of ``decision_path``). A crafted file passes the
type allow-list with out-of-range values there and then crashes the process or reads (or, for
``decision_path``, writes) memory it does not own. So a loaded model's trees must be trees: each
child comes after its parent and inside the array, each split reads a column the estimator
validates its input for, and no path is deeper than ``max_depth``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lolpop.exceptions import InvalidInputError

_LEAF = -1


def _tree_problem(tree: Any, n_features_in: Any) -> str | None:
    """What is wrong with ``tree`` (held by an estimator fitted on ``n_features_in`` columns)."""
    n = int(tree.node_count)
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


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _members(value: Any) -> list[Any]:
    if isinstance(value, np.ndarray) and value.dtype == object:
        return list(value.ravel())
    if isinstance(value, (list, tuple)):
        return [m for item in value for m in _members(item)]
    return [value]


def check_trees(obj: Any, where: str) -> None:
    """Refuse ``obj`` (a loaded model) if a decision tree in it is not a well-formed tree.

    Raises:
        InvalidInputError: names the estimator holding the bad tree and what is wrong.
    """
    from sklearn.tree._tree import Tree

    seen: set[int] = set()
    stack = [obj]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            stack.extend(node.values())
            continue
        if isinstance(node, (list, tuple)) or (isinstance(node, np.ndarray) and node.dtype == object):
            stack.extend(_members(node))
            continue
        attrs = getattr(node, "__dict__", None)
        if not isinstance(attrs, dict):
            continue
        n_in = attrs.get("n_features_in_")
        tree = attrs.get("tree_")
        if isinstance(tree, Tree):
            problem = _tree_problem(tree, n_in)
            if problem:
                raise InvalidInputError(f"{where}: the tree of a {type(node).__name__} is malformed ({problem})")
        # Forests and gradient boosting run their trees without validating the input again:
        # a member must not read more columns than the ensemble checks for.
        for member in _members(attrs.get("estimators_", [])):
            m_in = getattr(member, "n_features_in_", None)
            if isinstance(getattr(member, "tree_", None), Tree) and not (_is_int(n_in) and _is_int(m_in) and m_in <= n_in):
                raise InvalidInputError(
                    f"{where}: a tree of a {type(node).__name__} reads {m_in} features, the ensemble takes {n_in}"
                )
        stack.extend(attrs.values())
