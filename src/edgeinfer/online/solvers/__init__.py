"""The ``lymdo_slot`` solvers: the exact per-slot allocation kernels (P3 Newton, eq. 23, P5 KKT)
in :mod:`.allocation`, ``convex`` (optimal resources for given splits), ``greedy-dpp``
(coordinate descent over splits) and ``exhaustive`` (every split combination). Importing this
package registers them."""

from edgeinfer.online.solvers import convex, exhaustive, greedy  # noqa: F401  (register the solvers)
