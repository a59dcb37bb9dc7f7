"""MBA: model broadcasting and assembling (Wu, Zeng, Huang), problem ``mba``.

Importing the package registers the problem and its solvers (``greedy``, ``bnb``,
``milp``, ``unicast``, ``latency``). It imports no torch, matplotlib or cvxpy; the
Shapley pipeline lives in :mod:`edgeinfer.broadcast.pipeline` (torch) and is never
imported from here.
"""

from edgeinfer.broadcast.problem import SPEC, MBAInstance, MBASolution, make_instance
from edgeinfer.core.registry import register_problem

register_problem(SPEC)

from edgeinfer.broadcast import algorithms as algorithms  # noqa: E402  (registers solvers)
from edgeinfer.broadcast import latency as latency  # noqa: E402

__all__ = ["MBAInstance", "MBASolution", "make_instance", "algorithms"]
