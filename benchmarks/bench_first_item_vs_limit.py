"""(a) Streaming time to first item queued / first_item_limit_seconds, per run of the shipped
recording at speed 20. Acceptance: first <= 1.10 x limit + 0.2 s in every run.
Last line: the worst ratio and whether the bound held in every run."""

from __future__ import annotations

from _replay_bench import replay

result = replay(("streaming",))
ratios, held = [], []
for run in result["modes"]["streaming"]["runs"]:
    first, limit = run["time_to_first_item_queued_seconds"], run["first_item_limit_seconds"]
    bound = 1.10 * limit + 0.2
    ratios.append(first / limit)
    held.append(first <= bound)
    print(
        f"run {run['run']}: first item {first:.3f} s, limit {limit:.3f} s, "
        f"ratio {first / limit:.3f}, bound 1.10 x limit + 0.2 = {bound:.3f} s "
        f"{'held' if first <= bound else 'MISSED'}"
    )
print(
    f"ratio streaming first item / first_item_limit (worst run) = {max(ratios):.3f}; "
    f"bound 1.10 x limit + 0.2 s held in {sum(held)}/{len(held)} runs"
)
