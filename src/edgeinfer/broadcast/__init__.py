"""MBA: model broadcasting and assembling (Wu, Zeng, Huang), problem ``mba``.

Rooms: :mod:`~edgeinfer.broadcast.problem` (file format, instance and solution, ``verify``),
:mod:`~edgeinfer.broadcast.model` (rate, assembly and power-control model shared by the
solvers and ``verify``), :mod:`~edgeinfer.broadcast.solvers` (``greedy``, ``bnb``, ``latency``,
``milp``, ``unicast``), :mod:`~edgeinfer.broadcast.scenario` (random instances).

Importing the package registers the problem and its solvers. It imports no torch, matplotlib
or cvxpy; the Shapley pipeline lives in :mod:`edgeinfer.broadcast.pipeline` (torch) and is
never imported from here.
"""

from edgeinfer.broadcast import solvers as solvers
from edgeinfer.broadcast.problem import SPEC, MBAInstance, MBASolution, build_instance
from edgeinfer.broadcast.scenario import ScenarioConfig, make_instance

__all__ = ["SPEC", "MBAInstance", "MBASolution", "ScenarioConfig", "build_instance", "make_instance", "solvers"]
