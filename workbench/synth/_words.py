"""The synthetic world's text: word lists, unique titles and bodies, one ``Story`` per post."""

from __future__ import annotations

import html
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

PROJECTS = (
    "CPython",
    "Django",
    "FastAPI",
    "Flask",
    "NumPy",
    "pandas",
    "Polars",
    "PyTorch",
    "Rust",
    "Go",
    "Kubernetes",
    "PostgreSQL",
    "SQLite",
    "Redis",
    "Linux",
    "WebAssembly",
    "TypeScript",
    "Deno",
    "Zig",
    "htmx",
    "uv",
    "Ruff",
    "Pydantic",
    "asyncio",
    "Celery",
    "Kafka",
    "DuckDB",
    "Firefox",
    "Git",
    "LLVM",
    "GCC",
    "Nix",
    "Neovim",
    "Jupyter",
    "scikit-learn",
    "JAX",
    "Triton",
    "ONNX",
    "SQLAlchemy",
    "Starlette",
    "Trio",
    "mypy",
    "Cython",
    "PyPy",
    "Numba",
    "Airflow",
    "Dask",
    "Ray",
    "Arrow",
    "Parquet",
    "gRPC",
    "Envoy",
    "Terraform",
    "Podman",
)
FEATURES = (
    "a faster garbage collector",
    "free-threaded builds",
    "structured logging",
    "native async support",
    "a new type checker",
    "incremental compilation",
    "zero-copy serialization",
    "a rewritten query planner",
    "better error messages",
    "pattern matching",
    "lazy imports",
    "a JIT compiler",
    "WASI support",
    "SIMD kernels",
    "per-interpreter GILs",
    "streaming responses",
    "a plugin API",
    "reproducible builds",
)
THINGS = (
    "API",
    "test suite",
    "build pipeline",
    "web scraper",
    "CLI",
    "queue worker",
    "ETL job",
    "data pipeline",
    "search index",
    "scheduler",
    "rate limiter",
    "feed reader",
    "chat bot",
    "static site generator",
    "package manager",
    "profiler",
    "debugger",
    "dashboard",
)
INTERNALS = (
    "memory allocator",
    "import system",
    "event loop",
    "bytecode",
    "type system",
    "query optimizer",
    "lock manager",
    "dependency resolver",
    "borrow checker",
    "tokenizer",
)
ADJECTIVES = ("tiny", "fast", "boring", "typed", "async", "distributed", "offline-first")
VERBS = ("replaced", "outgrew", "rewrote", "dropped", "adopted", "benchmarked")
TEMPLATES = (
    "{p} {v} released with {f}",
    "How we cut our {t} latency by {n}% with {p}",
    "Is {p} still worth learning in 2024?",
    "A deep dive into the {p} {i}",
    "Why our team {verb} {p} for the {t}",
    "Show: I built a {a} {t} in {p}",
    "{p} vs {p2}: benchmarking the {t}",
    "Understanding the {i} in {p}",
    "The state of {p} packaging & tooling",
    "Lessons from migrating {n}k lines from {p} to {p2}",
    "When x < y is slow: {p} {i} surprises",
    "{p} {v}: what's new for {t} authors",
    "Profiling a {a} {t} written in {p}",
    "{n} things I wish I knew before using {p}",
    "Q&A with the {p} maintainers about {f}",
)
SENTENCES = (
    "We ran it in production for {n} weeks before writing this up.",
    "The benchmark numbers are at the end, along with the scripts to reproduce them.",
    "Most of the speedup came from avoiding copies between {p} and {p2}.",
    "The migration took longer than planned, mostly because of the {i}.",
    "Feedback welcome, especially from people who run {p} at scale.",
    "It is not a silver bullet, but for a {t} it was the right trade-off.",
    "The docs describe {f}, but the details are in the release notes.",
    "I expected the {i} to be the bottleneck; it was DNS.",
    "Our {t} now handles {n}x the traffic on the same hardware.",
    "There is a short video of the talk & the slides are linked below.",
)
GERMAN_TITLES = (
    "{p} {v} veröffentlicht: schnellere Übersetzung und {n} Änderungen",
    "Für Entwickler: {p} bekommt neue Funktionen für den {t}",
    "Sicherheitslücke in {p}: Update auf {v} empfohlen",
    "Größere Änderungen bei {p}: was Entwickler jetzt wissen müssen",
    "Programmiersprache {p}: Version {v} bringt Verbesserungen für {n} Plattformen",
)
GERMAN_BODY = (
    "Die neue Version von {p} steht ab sofort zum Download bereit. Laut den Entwicklern "
    "wurden {n} Fehler behoben und die Geschwindigkeit deutlich verbessert. Außerdem gibt "
    "es Änderungen für Nutzer von {p2}, die vor dem Update geprüft werden sollten."
)
TOOTS = (
    "Just released {p} {v}! {f} is finally in. Changelog and upgrade notes in the thread.",
    "TIL that the {p} {i} caches more than I thought. Saved {n} ms per request in our {t}.",
    "Hot take: most {t} projects do not need {p2}. A {a} {p} script is fine.",
    "Our {t} moved from {p2} to {p} last week. Fewer moving parts, {n}% less memory.",
    "Reading the {p} source today: the {i} is surprisingly readable.",
    "Looking for reviewers for a small {p} PR that adds {f}. Beginners welcome!",
    "Slides from my talk on {f} in {p} are up. Thanks to everyone who came!",
    "Is anyone running {p} {v} in production yet? How is the {i}?",
)


@dataclass
class Story:
    """One piece of content as it would appear on any platform."""

    key: int
    title: str
    url: str
    body: str  # plain paragraphs separated by blank lines ("" for a link post)
    author: str
    published: datetime
    extra: dict[str, Any] = field(default_factory=dict)


class Words:
    """Unique titles and bodies from the word lists, drawn with one seeded RNG."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.titles: set[str] = set()
        self.keys = itertools.count(1)

    def fill(self, template: str) -> str:
        r = self.rng
        p, p2 = r.sample(PROJECTS, 2)
        return template.format(
            p=p,
            p2=p2,
            v=f"{r.randint(0, 7)}.{r.randint(0, 19)}",
            f=r.choice(FEATURES),
            t=r.choice(THINGS),
            i=r.choice(INTERNALS),
            a=r.choice(ADJECTIVES),
            verb=r.choice(VERBS),
            n=r.randint(2, 95),
        )

    def title(self, templates: Sequence[str] = TEMPLATES) -> str:
        for _ in range(1000):
            title = self.fill(self.rng.choice(templates))
            if title.casefold() not in self.titles:
                self.titles.add(title.casefold())
                return title
        raise RuntimeError("word lists exhausted")  # pragma: no cover

    def paragraphs(self, count: int) -> str:
        return "\n\n".join(
            " ".join(self.fill(s) for s in self.rng.sample(SENTENCES, self.rng.randint(2, 4)))
            for _ in range(count)
        )

    def slug(self, title: str) -> str:
        cleaned = "".join(c.lower() if c.isalnum() else "-" for c in title)
        return "-".join(part for part in cleaned.split("-") if part)[:60]


def html_paragraphs(text: str) -> str:
    """Plain paragraphs (blank-line separated) as escaped ``<p>`` elements."""
    return "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in text.split("\n\n") if p)
