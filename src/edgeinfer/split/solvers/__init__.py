"""The ``split_noma`` solvers, in the paper's order: Li-GD and GD (Table I, Corollary 4), our
exhaustive reference, and the §VI baselines. Importing this package registers them."""

from edgeinfer.split.solvers import baselines, ligd, reference  # noqa: F401  (register the solvers)
