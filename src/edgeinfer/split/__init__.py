"""ECC / Li-GD: DNN split inference over multi-cell NOMA (Yuan et al.), problem ``split_noma``.

Rooms: :mod:`~edgeinfer.split.problem` (file format, solution, ``verify``),
:mod:`~edgeinfer.split.model` (the system model, eqs. 1-22, shared by the solvers and
``verify``), the solvers :mod:`~edgeinfer.split.solvers.ligd` (``li-gd``, ``gd``),
:mod:`~edgeinfer.split.solvers.reference` (``reference``) and :mod:`~edgeinfer.split.solvers.baselines`
(§VI), and :mod:`~edgeinfer.split.scenario` (§VI random drops). Importing this package
registers the problem and its solvers; it imports NumPy only (SciPy lazily inside
``reference``).
"""

from edgeinfer.split import problem, solvers  # noqa: F401  (register the problem and solvers)
from edgeinfer.split.model import Decision, SplitInstance, evaluate
from edgeinfer.split.problem import PROBLEM, SPEC, SplitSolution
from edgeinfer.split.scenario import ScenarioConfig, make_instance

__all__ = ["PROBLEM", "SPEC", "Decision", "ScenarioConfig", "SplitInstance", "SplitSolution", "evaluate",
           "make_instance"]
