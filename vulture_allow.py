"""Names that third-party libraries read or call by name; vulture cannot see those uses.

Read by `make lint` (vulture) only; never imported.
"""
# ruff: noqa
from types import SimpleNamespace

_ = SimpleNamespace()
# highspy: HighsLp / HighsSparseMatrix fields and HighsSolution.value_valid, set before passLp
_.num_col_
_.num_row_
_.col_cost_
_.col_lower_
_.col_upper_
_.row_lower_
_.row_upper_
_.format_
_.start_
_.index_
_.value_
# highspy: HighsCallbackInput.user_interrupt, read by HiGHS after a MIP interrupt callback
_.user_interrupt
_.value_valid
# torch.nn.Module: submodules registered by attribute assignment (zoo architectures)
_.mlpconv1
_.pool1
_.mlpconv2
_.pool2
_.mlpconv3
_.pool3
_.drop3
_.mlpconv4
_.pool6
_.conv7
_.conv8
_.conv9
_.region
# Stable-Baselines3: callback hooks and PPO settings; Gymnasium: Env attributes
_.buffer_size
_._on_training_start
_._on_step
_._on_training_end
_.metadata
_.observation_space
# pydantic model fields read from JSON documents
_.x_m
_.y_m
# pydantic fields of server.json / run.json (edgeinfer.loading.server): written as dicts, read by
# the JSON Schema and by the files' users
_.activation_bytes_per_sample
_.buffer_bytes
_.bytes_read
_.cache_note
_.date_utc
_.device_name
_.edgeinfer_version
_.evicted_blocks
_.finish_rel_error
_.fit_max_rel_error
_.layers_measured
_.load_average
_.loaded_blocks
_.loaded_bytes
_.max_abs_finish_rel_error
_.mean_signed_rel_error
_.measured_makespan_s
_.median_abs_finish_rel_error
_.pageable_bytes_per_s
_.pinned_bytes_per_s
_.predicted_makespan_s
_.served_measured
_.warm_read_bytes_per_s
# OR-Tools CP-SAT: SatParameters fields set by attribute (loading/solvers/cpsat.py, benchmarks/peers_loading.py)
_.random_seed
_.max_deterministic_time
_.max_time_in_seconds
_.interleave_search
_.linearization_level
_.add_lp_constraints_lazily
# pytest: module-level marks and collection hooks, read by name
_.pytestmark
_.pytest_collection_modifyitems
