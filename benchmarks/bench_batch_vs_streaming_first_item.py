"""(b) Batch / streaming time to first item queued, per run of the shipped recording at speed 20.
Target: >= 10 in every run. Last line: the smallest ratio."""

from __future__ import annotations

from _replay_bench import replay

result = replay(("batch", "streaming"))
ratios = []
batch_runs = result["modes"]["batch"]["runs"]
for b, s in zip(batch_runs, result["modes"]["streaming"]["runs"], strict=True):
    bf, sf = b["time_to_first_item_queued_seconds"], s["time_to_first_item_queued_seconds"]
    ratios.append(bf / sf)
    print(f"run {b['run']}: batch {bf:.2f} s, streaming {sf:.3f} s, ratio {bf / sf:.1f}")
print(f"ratio batch/streaming time to first item (smallest run) = {min(ratios):.1f}")
