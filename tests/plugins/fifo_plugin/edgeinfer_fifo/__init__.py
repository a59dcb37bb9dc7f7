"""An edgeinfer plugin: one more partial_loading solver, found through its entry point."""


from edgeinfer import Param, SolveStatus, register_solver
from edgeinfer.loading import Batch, PartialLoadingSolution, timeline


@register_solver("partial_loading", "fifo", "one batch per model, most-requested model first (plugin)",
                 params=(Param("max_users", 1000, int, "users per batch at most", bounds=(1, None)),))
def solve_fifo(inst, *, options):
    batches = []
    for m in sorted(range(inst.n_models), key=lambda i: (-len(inst.users_of(i)), i)):
        users = sorted(inst.users_of(m), key=lambda k: inst.unit_upload_s[k])
        users = users[: min(int(inst.max_batch[m]), options.params["max_users"])]
        while users:  # drop the slowest uploader until the batch meets the deadline
            unit = inst.unit_upload_s[users]
            trial = Batch(m, tuple(int(k) for k in users), tuple(float(s) for s in unit / unit.sum()))
            if timeline(inst, [*batches, trial])[-1].served:
                batches.append(trial)
                break
            users = users[:-1]
    served = sum(len(b.users) for b in batches)
    return PartialLoadingSolution(problem="partial_loading", algorithm="fifo", status=SolveStatus.FEASIBLE,
                                  objective=float(served), batches=tuple(batches), instance=inst)
