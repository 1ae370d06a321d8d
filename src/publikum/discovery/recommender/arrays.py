"""Small array helpers shared by the recommender's modules."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import scipy.sparse as sp


def membership(lists: Sequence[Collection[int]], width: int) -> sp.csr_matrix:
    """Row r has a 1 in each column listed in lists[r]."""
    rows = np.repeat(np.arange(len(lists)), [len(x) for x in lists])
    cols = np.fromiter((c for x in lists for c in x), dtype=np.int64, count=len(rows))
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(lists), width))


def spread(scores: np.ndarray) -> float:
    """The standard deviation of `scores`, 1 where there is none (nothing to scale by)."""
    value = float(np.std(scores))
    return value if value > 1e-12 else 1.0


def minmax(matrix: np.ndarray) -> np.ndarray:
    """Each row scaled to 0..1 (a constant row becomes all ones: nothing to prefer)."""
    if matrix.size == 0:
        return matrix.astype(np.float64)
    low = matrix.min(axis=1, keepdims=True)
    span = matrix.max(axis=1, keepdims=True) - low
    return np.where(span > 1e-12, (matrix - low) / np.where(span > 1e-12, span, 1.0), 1.0)


def row_max_scaled(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its largest value (a row of zeros stays zeros)."""
    top = matrix.max(axis=1, keepdims=True) if matrix.size else np.zeros((len(matrix), 1))
    return np.divide(matrix, top, out=np.zeros_like(matrix, dtype=np.float64), where=top > 0)
