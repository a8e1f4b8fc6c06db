"""What every platform fake shares: one seeded RNG, the word source, the users, stories."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from workbench.synth._exchange import Plan
from workbench.synth._words import TEMPLATES, Story, Words

_T = TypeVar("_T")

USERS = (
    "pyfan", "ada_l", "gvr_fan", "nedbat_reader", "datawrangler", "rustacean42",
    "async_amy", "kernelhacker", "mlresearch", "typedtom", "sqlsam", "devops_dee",
    "jupyterjo", "cli_carl", "benchbob", "pep8pat", "lambda_lu", "numpy_nina",
)  # fmt: skip
TAGS = ("python", "release", "performance", "tooling", "web", "data")


class World:
    """The generator's shared state; every draw goes through ``rng``, in a fixed order."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.words = Words(rng)
        self.users = list(USERS)

    def story(self, run_start: datetime, *, body_paragraphs: int, domain: str,
              templates: Sequence[str] = TEMPLATES, max_age_h: float = 8.0) -> Story:  # fmt: skip
        """A new story published within ``max_age_h`` before the run."""
        title = self.words.title(templates)
        slug = self.words.slug(title)
        key = next(self.words.keys)
        published = run_start - timedelta(seconds=self.rng.uniform(60, max_age_h * 3600))
        return Story(
            key=key,
            title=title,
            url=f"https://{domain}/{published:%Y/%m}/{slug}/",
            body=self.words.paragraphs(body_paragraphs) if body_paragraphs else "",
            author=self.rng.choice(self.users),
            published=published.replace(microsecond=0),
            extra={"slug": slug, "tags": self.rng.sample(TAGS, 2)},
        )

    def carry(self, previous: Sequence[_T], plan: Plan) -> list[_T]:
        """The share of the previous run's items that a source shows again."""
        count = round(plan.size * plan.carry) if previous else 0
        return self.rng.sample(previous, min(count, len(previous)))


@dataclass(frozen=True, eq=False)
class SourceSpec:
    """One source of a profile: its name and sources.yaml entry; subclasses add behaviour."""

    TYPE: ClassVar[str]
    name: str
    config: Mapping[str, Any]  # the rest of its sources.yaml entry, in the order written

    @property
    def entry(self) -> dict[str, Any]:
        """Its sources.yaml entry."""
        return {"name": self.name, "type": self.TYPE, **self.config}
