"""The solvers of ``partial_loading``; importing this package registers them.

In the order of the paper: its slotted DP (``spec-slotted``, Algorithms 1-2) and greedy
(``gen``, Algorithm 3); ours: the continuous-time DP (``spec``, exact for backbone sharing),
the subset DP (``exact``, any instance) and the order search (``search``); the baselines
(``independent``: whole-model reloads, Remark 3; ``equal-bandwidth``: Fig. 8's equal
sub-channels) and the MILP cross-check (``milp``). Shared pieces: :mod:`.dp` (DP kernels) and
:mod:`.plans` (plans to batches). Every solver declares its parameters; ``edgeinfer list
--problem partial_loading`` prints them.
"""

from edgeinfer.loading.solvers import (  # noqa: F401  (each registers itself)
    equal_bandwidth,
    exact,
    gen,
    independent,
    milp,
    search,
    spec,
    spec_slotted,
)
