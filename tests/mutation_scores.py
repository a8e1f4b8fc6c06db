"""The mutation score per module from mutmut's results (``mutants/<module>.meta``), as the
Markdown table of docs/testing.md: ``python tests/mutation_scores.py`` after ``mutmut run``.

Score: mutants killed (a test failed, or it ran into the time limit) over the mutants that are
not equivalent; the equivalent ones, and why, are listed in tests/mutants_equivalent.txt.
Exits 1 when a module scores below ``--min`` (default 90 %) or was not run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT = ROOT / "tests" / "mutants_equivalent.txt"
KILLED = {1, 3, 24, -24, 36, 152, 255}  # mutmut's exit codes for killed and timeout
SURVIVED, NO_TESTS = {0}, {5, 33}


def equivalent_mutants(path: Path = EQUIVALENT) -> dict[str, str]:
    """``mutant name: why it is equivalent`` lines (``#`` starts a comment line)."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, why = line.partition(": ")
            out[name.strip()] = why.strip()
    return out


def modules() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    return list(config["only_mutate"])


def scores(equivalent: dict[str, str]) -> list[dict[str, object]]:
    rows = []
    for module in modules():
        meta = ROOT / "mutants" / f"{module}.meta"
        codes = json.loads(meta.read_text())["exit_code_by_key"] if meta.is_file() else {}
        count: Counter[str] = Counter()
        survivors = []
        for name, code in codes.items():
            if name in equivalent:
                count["equivalent"] += 1
            elif code in KILLED:
                count["killed"] += 1
            elif code in SURVIVED or code in NO_TESTS:
                count["survived"] += 1
                survivors.append(name)
            else:
                count["not run"] += 1
        judged = count["killed"] + count["survived"]
        rows.append(
            {
                "module": module,
                "mutants": len(codes),
                **count,
                "score": count["killed"] / judged if judged else None,
                "survivors": survivors,
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min", type=float, default=0.90, help="lowest score accepted (0..1)")
    parser.add_argument("--survivors", action="store_true", help="list the surviving mutants")
    args = parser.parse_args()
    rows = scores(equivalent_mutants())
    print("| Module | Mutants | Killed | Equivalent | Survived | Score |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    failed = []
    for row in rows:
        score = row["score"]
        shown = "not run" if score is None else f"{score:.1%}"
        print(f"| `{row['module']}` | {row['mutants']} | {row.get('killed', 0)} | "
              f"{row.get('equivalent', 0)} | {row.get('survived', 0)} | {shown} |")  # fmt: skip
        if score is None or score < args.min or row.get("not run"):
            failed.append(str(row["module"]))
    if args.survivors:
        for row in rows:
            for name in row["survivors"]:  # type: ignore[attr-defined]
                print(name)
    if failed:
        print(f"below {args.min:.0%} or not run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
