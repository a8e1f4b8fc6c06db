"""(a) Streaming time to first item queued / first_item_limit_seconds, per run of the shipped
recording at speed 20. Target: <= 1.10 (plus 0.2 s) in every run. Last line: the worst ratio."""

from __future__ import annotations

from _replay_bench import replay

result = replay(("streaming",))
ratios = []
for run in result["modes"]["streaming"]["runs"]:
    first, limit = run["time_to_first_item_queued_seconds"], run["first_item_limit_seconds"]
    ratios.append(first / limit)
    print(
        f"run {run['run']}: first item {first:.3f} s, limit {limit:.3f} s, ratio {first / limit:.3f}"
    )
print(f"ratio streaming first item / first_item_limit (worst run) = {max(ratios):.3f}")
