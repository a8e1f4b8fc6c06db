"""The rollout study behind the notebooks: each notebook calls one step and shows its section.

- ``explore_recordings`` (01), ``replay_recordings`` (02, cached), ``simulate_recordings`` (03)
  write their results as JSON into the output folder (``Results``);
- ``recordings_section``, ``replay_section``, ``simulation_section`` turn those results into the
  report's sections (tables, figures; they display in a notebook as they appear in the report);
- ``run_rollouts``, ``sweep_rate_limits`` (02) and ``processor_hazards``, ``tune_scaler``,
  ``write_recommendation`` (03) run the rollout study (``workbench/study/rollout.py``);
  ``rollout_section``, ``rate_limit_section``, ``hazard_section``, ``tuning_section`` show it;
- ``assemble`` builds the whole report from the results (04), ``Report.write`` writes the HTML,
  the Markdown and ``metrics.json``; ``execute_notebooks`` runs the four notebooks headless.
"""

from workbench.study._results import Results, recording_paths
from workbench.study.decision_sections import tuning_section
from workbench.study.execute import STUDY_NOTEBOOKS, execute_notebooks
from workbench.study.explore import explore_recordings
from workbench.study.replay import replay_recordings
from workbench.study.rollout import (
    processor_hazards,
    rollout_study,
    run_rollouts,
    sweep_rate_limits,
    tune_scaler,
    write_recommendation,
)
from workbench.study.rollout_sections import hazard_section, rate_limit_section, rollout_section
from workbench.study.sections import (
    SECTIONS,
    Context,
    assemble,
    duplicates_section,
    recordings_section,
    replay_section,
    simulation_section,
)
from workbench.study.simulate import DEFAULT_STARTUP, simulate_recordings, simulation_settings
from workbench.study.summary import summary_section

__all__ = [
    "DEFAULT_STARTUP",
    "SECTIONS",
    "STUDY_NOTEBOOKS",
    "Context",
    "Results",
    "assemble",
    "duplicates_section",
    "execute_notebooks",
    "explore_recordings",
    "hazard_section",
    "processor_hazards",
    "rate_limit_section",
    "recording_paths",
    "recordings_section",
    "replay_recordings",
    "replay_section",
    "rollout_section",
    "rollout_study",
    "run_rollouts",
    "simulate_recordings",
    "simulation_settings",
    "simulation_section",
    "summary_section",
    "sweep_rate_limits",
    "tune_scaler",
    "tuning_section",
    "write_recommendation",
]
