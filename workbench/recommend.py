"""The report's recommendation: the rollout option, the streaming send limit and the scaler
settings, each with the rule that picked it and the numbers it rests on.

``recommend(...)`` takes the study's results (rollout documents per recording and option, the
A/B run on the fault recording, the rate recommendation of ``workbench.ratelimit`` and the
tuning result of ``workbench.tune``) and returns plain data; nothing here runs a replay or a
simulation, so a reader can check every choice against the tables it names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.rollout import ACTING_OPTIONS, OPTION_SHORT, OPTIONS

OPTION_RULE = (
    "An option qualifies when no step of it lost, doubled or invented a content hash on any "
    "recording. Of the qualifying options, prefer one that contains a misbehaving source by "
    "itself: on the fault recording its guardrails switched the tripped source, and only that "
    "source, back to batch (an option without automatic fallback contains only if no guardrail "
    "tripped in any of its runs, i.e. nothing needed containing). Among those, prefer the one "
    "that ran the most source-runs on streaming (the benefit arrives soonest)."
)


def option_scores(
    rollouts: Mapping[str, Mapping[str, Mapping[str, Any]]],
    fault: Mapping[str, Any] | None,
) -> dict[str, dict[str, Any]]:
    """Per option, the numbers :data:`OPTION_RULE` judges: ``rollouts[recording][option]`` are
    ``run_rollout`` documents; ``fault`` is the A/B document of the fault recording."""
    scores: dict[str, dict[str, Any]] = {}
    for option in OPTIONS:
        docs = {
            rec: by_option[option] for rec, by_option in rollouts.items() if option in by_option
        }
        if not docs:
            continue
        lost = sum(d["end"]["content_hashes_lost"] for d in docs.values())
        twice = sum(d["end"]["content_hashes_queued_twice"] for d in docs.values())
        unexpected = sum(d["end"].get("content_hashes_unexpected", 0) for d in docs.values())
        tripped = sum(d["end"]["guardrails_tripped"] for d in docs.values())
        source_runs = streaming_runs = 0
        for doc in docs.values():
            for step in doc["steps"]:
                for modes in step["run_modes"]:
                    source_runs += len(modes)
                    streaming_runs += sum(1 for m in modes.values() if m == "streaming")
        if option in ACTING_OPTIONS:
            contained = _contained(fault) if option == "ab" else False
            how = "fault recording: " + (
                "the tripped source alone went back to batch"
                if contained
                else "not run or no fallback seen"
            )
        else:
            contained = tripped == 0
            how = (
                "no guardrail tripped in its runs"
                if contained
                else f"{tripped} guardrail trip(s) in its runs and no automatic fallback"
            )
        scores[option] = {
            "recordings": sorted(docs),
            "content_hashes_lost": lost,
            "content_hashes_queued_twice": twice,
            "content_hashes_unexpected": unexpected,
            "qualifies": lost == twice == unexpected == 0,
            "guardrails_tripped": tripped,
            "contains_a_misbehaving_source": contained,
            "containment_evidence": how,
            "source_runs": source_runs,
            "streaming_source_runs": streaming_runs,
            "streaming_share": streaming_runs / source_runs if source_runs else 0.0,
            "fallbacks": [f for d in docs.values() for f in d["fallbacks"]],
        }
    return scores


def _contained(fault: Mapping[str, Any] | None) -> bool:
    """On the fault recording: at least one fallback, every tripped source went back to batch
    from its next run, and every other source ran in the modes its steps planned."""
    if not fault or not fault["fallbacks"]:
        return False
    fell = {f["source"] for f in fault["fallbacks"]}
    tripped = {c["source"] for s in fault["steps"] for c in s["guardrails"] if c["tripped"]}
    if tripped != fell:
        return False
    for step in fault["steps"]:
        for modes in step["run_modes"]:
            for name, mode in modes.items():
                if name not in fell and mode != step["modes"][name]:
                    return False
    return fault["end"]["content_hashes_lost"] == fault["end"]["content_hashes_queued_twice"] == 0


def choose_option(scores: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The option :data:`OPTION_RULE` picks (None when none qualifies)."""
    ranked = sorted(
        (s for s in scores.items() if s[1]["qualifies"]),
        key=lambda s: (not s[1]["contains_a_misbehaving_source"], -s[1]["streaming_share"]),
    )
    return ranked[0][0] if ranked else None


def recommend(
    rollouts: Mapping[str, Mapping[str, Mapping[str, Any]]],
    fault: Mapping[str, Any] | None,
    rate: Mapping[str, Any],
    tuning: Mapping[str, Any],
) -> dict[str, Any]:
    """The three choices with their rules and numbers. ``rate`` is
    ``ratelimit.recommend_rate``'s result, ``tuning`` a ``TuningResult.to_json()`` (with the
    recording it was tuned on under ``"arrivals"``)."""
    scores = option_scores(rollouts, fault)
    option = choose_option(scores)
    rec = tuning.get("recommended")
    shipped = tuning.get("shipped_position", {}).get("setting")
    keys = ("latency_p95_s", "replica_seconds", "time_to_first_item_processed_s")
    return {
        "option": {
            "choice": option,
            "rule": OPTION_RULE,
            "scores": scores,
        },
        "rate_limit": {
            "choice": rate["rate"],
            "items_per_s": rate["rate_limit_items_per_s"],
            "found": rate["found"],
            "rule": rate["rule"],
            "peak_margin": rate.get("peak_margin"),
            "p95_slack": rate.get("p95_slack"),
            "candidates": rate["candidates"],
        },
        "scaler": {
            "choice": None if rec is None else {k: rec[k] for k in (shipped or {})},
            "shipped": shipped,
            "rule": tuning.get("rule"),
            "arrivals": tuning.get("arrivals"),
            "recommended": None if rec is None else {k: rec.get(k) for k in keys},
            "recommended_ci": None
            if rec is None
            else {k: [rec.get(f"{k}_ci_low"), rec.get(f"{k}_ci_high")] for k in keys},
            "shipped_numbers": {k: tuning.get("shipped", {}).get(k) for k in keys},
            "shipped_position": tuning.get("shipped_position"),
            "caveats": scaler_caveats(
                None if rec is None else {k: rec[k] for k in (shipped or {})}
            ),
        },
    }


def headline(recommendation: Mapping[str, Any]) -> str:
    """The recommendation in one sentence."""
    choice = recommendation["option"]["choice"]
    option = OPTION_SHORT[choice] if choice else "none of the options (each lost or doubled items)"
    rate = recommendation["rate_limit"]["choice"]
    scaler = recommendation["scaler"]["choice"]
    setting = ", ".join(f"{k} {v}" for k, v in (scaler or {}).items()) or "the shipped setting"
    return f"Roll out {option}, with a streaming send limit of {rate} and the scaler at {setting}."


def scaler_caveats(setting: Mapping[str, Any] | None) -> list[str]:
    """What a reader should know before applying the setting."""
    out = []
    activation = (setting or {}).get("activationQueueLength")
    if activation:
        out.append(
            f"with activationQueueLength {activation}, KEDA stays at zero replicas while {activation} "
            f"or fewer messages wait: a run that queues {activation} or fewer new items is "
            "processed only when a later run adds more (8 h later)"
        )
    return out
