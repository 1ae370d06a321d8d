"""The collaborative operator B over past items: how strongly having come to past item i
predicts coming to past item j.

EASE (Steck 2019, a closed-form ridge regression of each item on all others), PureSVD
(B = V Vᵀ of a truncated SVD) or item-kNN (cosine, top neighbours); EASE is the default
because it measured best on the house-like synthetic data (item-kNN led on MovieLens;
docs/benchmarks/discovery.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
from sklearn.preprocessing import normalize
from sklearn.utils.extmath import randomized_svd

from publikum.discovery.recommender.config import ModelConfig


@dataclass
class Collaborative:
    """B in the form each model keeps it: EASE's dense matrix, the SVD's item factors V, or
    the item-kNN neighbourhoods. Exactly one is set."""

    ease: np.ndarray | None = None
    factors: np.ndarray | None = None
    knn: sp.csr_matrix | None = None

    def columns(self, weights: np.ndarray, past_index: np.ndarray) -> np.ndarray:
        """B R for new candidates (R: past items x candidates, the content transfer's
        weights), B's own column for candidates that are past items (past_index >= 0)."""
        if self.ease is not None:
            out = self.ease @ weights.astype(np.float32)
            for j in np.flatnonzero(past_index >= 0):
                out[:, j] = self.ease[:, past_index[j]]
        elif self.factors is not None:
            v = self.factors
            out = v @ (v.T @ weights.astype(np.float32))
            for j in np.flatnonzero(past_index >= 0):
                out[:, j] = v @ v[past_index[j]]
        else:
            assert self.knn is not None
            out = np.asarray(self.knn @ weights, dtype=np.float32)
            for j in np.flatnonzero(past_index >= 0):
                out[:, j] = self.knn[:, past_index[j]].toarray().ravel()
        return np.asarray(out, dtype=np.float64)


def collaborative_fit(*, history: sp.csr_matrix, config: ModelConfig) -> Collaborative:
    """B learned from `history` (users x past items, at least one past item)."""
    x = history
    n = x.shape[1]
    if config.collaborative == "ease":
        gram = (x.T @ x).toarray()
        lam = config.ease_l2 * max(float(np.mean(np.diag(gram))), 1e-9)
        gram[np.diag_indices(n)] += lam
        inverse = la.inv(gram, overwrite_a=True, check_finite=False)
        ease = -inverse / np.diag(inverse)[None, :]
        np.fill_diagonal(ease, 0.0)
        return Collaborative(ease=ease.astype(np.float32))
    if config.collaborative == "svd":
        rank = max(1, min(config.svd_factors, min(x.shape) - 1))
        _, _, vt = randomized_svd(x, rank, random_state=0)
        return Collaborative(factors=vt.T.astype(np.float32))
    cols = normalize(x.T.tocsr(), axis=1)
    sim = (cols @ cols.T).tocsc()
    sim.setdiag(0.0)
    sim.eliminate_zeros()
    return Collaborative(knn=top_per_column(sim, config.knn_neighbours))


def top_per_column(matrix: sp.csc_matrix, keep: int) -> sp.csr_matrix:
    """Keep the `keep` largest entries of each column (item-kNN's neighbourhood)."""
    matrix = matrix.tocsc()
    for j in range(matrix.shape[1]):
        start, end = matrix.indptr[j], matrix.indptr[j + 1]
        if end - start > keep:
            values = matrix.data[start:end]
            cut = np.partition(values, -keep)[-keep]
            values[values < cut] = 0.0
    matrix.eliminate_zeros()
    return matrix.tocsr()
