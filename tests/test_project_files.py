"""The project's own files agree with each other."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_lists_the_runtime_dependencies_of_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert sorted(pip_section) == sorted(project["dependencies"])
    assert "python=3.11" in env["dependencies"]


def test_required_runtime_dependencies_are_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_name(d) for d in project["dependencies"]}
    required = {
        "httpx", "feedparser", "simpy", "pandas", "matplotlib", "jupyterlab", "nbclient",
        "azure-storage-queue", "azure-storage-blob", "aiohttp", "pyyaml",
    }  # fmt: skip
    assert required <= names


def test_azurite_is_pinned_to_a_version_that_runs_on_node_20():
    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert package["dependencies"]["azurite"] == "3.35.0"
    assert lock["packages"]["node_modules/azurite"]["version"] == "3.35.0"


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()


def test_layout_rules_pipeline_and_sim_stay_independent():
    pattern = {
        "pipeline": re.compile(r"^\s*(from|import)\s+(sim|workbench)(\.|\s|$)", re.M),
        "sim": re.compile(r"^\s*(from|import)\s+(pipeline|workbench)(\.|\s|$)", re.M),
    }
    for package, forbidden in pattern.items():
        for path in (ROOT / package).rglob("*.py"):
            assert not forbidden.search(path.read_text()), f"{path} imports a forbidden package"
