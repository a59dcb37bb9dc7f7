"""The built-in studies, one module per study, each defining a module-level ``STUDY``.

| study             | module                                            |
|-------------------|---------------------------------------------------|
| ``partial-loading`` | :mod:`edgeinfer.experiments.studies.partial_loading` |
| ``mba``             | :mod:`edgeinfer.experiments.studies.mba`             |
| ``slide``           | :mod:`edgeinfer.experiments.studies.slide`           |
| ``split-noma``      | :mod:`edgeinfer.experiments.studies.split_noma`      |
| ``lymdo``           | :mod:`edgeinfer.experiments.studies.lymdo`           |
| ``toy``             | :mod:`edgeinfer.experiments.studies.toy`             |

The studies sit above the frameworks: they import framework code, no framework imports
them (or anything in :mod:`edgeinfer.experiments`). Nothing is imported here; the registry
(:mod:`edgeinfer.experiments.registry`) imports a study's module when it is first asked for.
"""
