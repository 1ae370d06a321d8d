"""Content transfer: carrying the collaborative operator over to upcoming items.

A kernel ridge regression from item content (features.py) to B's columns: an upcoming item j
with content c_j gets the column B R[:, j], with R = (K + λI)⁻¹ C cⱼᵀ and K = C Cᵀ over the
past items' content C. In words: "an upcoming date is like these past ones, and people who
came to i came to those". The transfer matrix of a programme is

    M = B R / σ_B  +  γ · C C_candᵀ / σ_C

the second term the direct content match ("you came to things like this"), σ the spread of
each term over a sample of users so that γ is a plain mix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp

from publikum.discovery.recommender.arrays import minmax, spread
from publikum.discovery.recommender.collaborative import Collaborative


@dataclass
class ContentKernel:
    """The Cholesky factor of K + λI over the past items' content."""

    factor: tuple[np.ndarray, bool]

    def weights(self, direct: np.ndarray) -> np.ndarray:
        """R = (K + λI)⁻¹ C C_candᵀ, from `direct` = C C_candᵀ (past items x candidates)."""
        return la.cho_solve(self.factor, direct, check_finite=False)


def content_kernel_fit(*, content: sp.csr_matrix, l2: float) -> ContentKernel:
    """K + λI factored, λ = `l2` times K's largest eigenvalue (at least one past item)."""
    n = content.shape[0]
    kernel = (content @ content.T).toarray()
    # Relative to the largest eigenvalue: the shrinkage then acts on the same share of the
    # spectrum (the "all items look alike" direction first) at any catalogue size.
    top = float(la.eigvalsh(kernel, subset_by_index=[n - 1, n - 1])[0]) if n > 1 else 1.0
    lam = l2 * max(top, 1e-9)
    kernel[np.diag_indices(n)] += lam
    return ContentKernel(la.cho_factor(kernel, lower=True, overwrite_a=True, check_finite=False))


def transfer_matrix(
    *,
    collaborative: Collaborative,
    kernel: ContentKernel,
    content: sp.csr_matrix,
    candidate_content: sp.csr_matrix,
    past_index: np.ndarray,
    sample: sp.csr_matrix,
    content_weight: float,
    past_popularity: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """M (past items x candidates, float32) and each candidate's popularity 0..1.

    `candidate_content` holds the candidates' normalised content vectors, `past_index` the
    index of a candidate among the past items (-1 for a new one), `sample` the history rows
    the spreads σ are measured on and `past_popularity` log(1 + visitors) of each past item:
    a new item's popularity is predicted through the same weights R, a past item keeps its
    own.
    """
    direct = (content @ candidate_content.T).toarray()
    weights = kernel.weights(direct)
    collab = collaborative.columns(weights, past_index)
    transfer = (
        collab / spread(sample @ collab) + content_weight * direct / spread(sample @ direct)
    ).astype(np.float32)
    mean = float(past_popularity.mean())
    popularity = mean + weights.T @ (past_popularity - mean)
    warm = past_index >= 0
    popularity[warm] = past_popularity[past_index[warm]]
    return transfer, minmax(popularity[None, :])[0]
