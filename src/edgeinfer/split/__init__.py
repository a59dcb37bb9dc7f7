"""ECC / Li-GD: DNN split inference over multi-cell NOMA (Yuan et al.), problem ``split_noma``.

Importing this package registers the problem and its solvers; it imports NumPy only
(SciPy lazily inside ``reference``).
"""

from edgeinfer.split import (
    algorithms,  # noqa: F401
    problem,  # noqa: F401  (registers the problem first)
)
from edgeinfer.split.model import Decision, SplitInstance, evaluate
from edgeinfer.split.problem import PROBLEM, SplitSolution

__all__ = ["PROBLEM", "Decision", "SplitInstance", "SplitSolution", "evaluate"]
