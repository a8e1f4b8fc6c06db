"""Execute the study's notebooks headless (papermill), in order, with the project's kernel.

Each notebook gets the parameters its ``parameters`` cell declares (others are not passed) and
is written, executed, to ``{out}/notebooks/``. A failing cell stops the run with one line that
names the notebook, the cell and the error.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from workbench.errors import WorkbenchError
from workbench.paths import NOTEBOOKS

KERNEL_NAME = "workbench"
STUDY_NOTEBOOKS = (
    "01-explore-recordings",
    "02-replay-batch-vs-streaming",
    "03-simulate-keda",
    "04-rollout-report",
)


class NotebookFailed(WorkbenchError):
    """A cell raised: ``notebook``, ``cell`` (1-based, in the source notebook) and the error."""

    def __init__(self, notebook: str, cell: int | None, error: str, executed: Path) -> None:
        where = f"cell {cell}" if cell is not None else "a cell"
        super().__init__(f"notebook {notebook}, {where}: {error} (executed copy: {executed})")
        self.notebook, self.cell, self.error, self.executed = notebook, cell, error, executed


@dataclasses.dataclass(frozen=True)
class Executed:
    notebook: str
    path: Path
    seconds: float


def check_kernel(name: str = KERNEL_NAME) -> None:
    """The kernel must exist and run this environment's Python (not another checkout's)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        raise WorkbenchError(
            f"Jupyter kernel {name!r} is not registered; run `make install` (it runs "
            f"`python -m ipykernel install --sys-prefix --name {name}`)"
        ) from None
    python = Path(spec.argv[0])
    # Compare the bin folders, not resolved paths: every venv's python links to one interpreter.
    if python.name.startswith("python") and python.parent != Path(sys.executable).parent:
        raise WorkbenchError(
            f"Jupyter kernel {name!r} runs {python}, not this environment's {sys.executable}; "
            f"run `make install` to register it again"
        )


def declared_parameters(notebook: Path) -> set[str]:
    import papermill

    return set(papermill.inspect_notebook(str(notebook)))


def _source_cell_number(notebook: Path, source: str) -> int | None:
    """The 1-based position of the cell with ``source`` in the committed notebook."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    for i, cell in enumerate(cells, 1):
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if text.strip() == source.strip():
            return i
    return None


class _StoppedKernelCell(logging.Filter):
    """Drops asyncio's "Task exception was never retrieved" for a cell whose kernel was stopped.

    An interrupt stops papermill while a cell runs; nbclient then shuts the kernel down on the
    same event loop, where the cell's pending task wakes up, finds the kernel dead and ends with
    ``DeadKernelError``, which nothing retrieves. asyncio logs that, with a traceback, when the
    task is collected: after the command's last line ("interrupted by ..."), at exit."""

    def filter(self, record: logging.LogRecord) -> bool:
        from nbclient.exceptions import DeadKernelError

        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, DeadKernelError)


def _quiet_stopped_kernel() -> None:
    asyncio_log = logging.getLogger("asyncio")
    if not any(isinstance(f, _StoppedKernelCell) for f in asyncio_log.filters):
        asyncio_log.addFilter(_StoppedKernelCell())


def execute_notebooks(
    out: str | Path,
    parameters: dict[str, Any],
    *,
    notebooks: Sequence[str] = STUDY_NOTEBOOKS,
    source_dir: Path = NOTEBOOKS,
    progress: Callable[[str], None] | None = None,
    stream: TextIO | None = None,
) -> list[Executed]:
    """Run ``notebooks`` in order; the executed copies go to ``{out}/notebooks``. ``stream``
    receives what the cells print to stderr (progress of long steps) as it comes."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    logging.getLogger("papermill").setLevel(logging.WARNING)
    check_kernel()
    executed_dir = Path(out) / "notebooks"
    executed_dir.mkdir(parents=True, exist_ok=True)
    done: list[Executed] = []
    for k, name in enumerate(notebooks, 1):
        source = source_dir / f"{name}.ipynb"
        if not source.is_file():
            raise WorkbenchError(f"notebook not found: {source}")
        target = executed_dir / f"{name}.ipynb"
        declared = declared_parameters(source)
        passed = {key: value for key, value in parameters.items() if key in declared}
        if progress:
            progress(f"[{k}/{len(notebooks)}] {name} ...")
        start = time.monotonic()
        try:
            papermill.execute_notebook(
                source,
                target,
                parameters=passed,
                kernel_name=KERNEL_NAME,
                progress_bar=False,
                stderr_file=stream,
                cwd=source_dir,
                # The kernel's own log (not the cells' output) is noise here, e.g. a warning
                # that its loopback TCP is not encrypted, or a reply it could not send once an
                # interrupted report had closed its channels (cell errors come through papermill).
                extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            )
        except PapermillExecutionError as exc:
            cell = _source_cell_number(source, exc.source)
            raise NotebookFailed(name, cell, f"{exc.ename}: {exc.evalue}", target) from None
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM (workbench.cli): the kernel is stopped
            _quiet_stopped_kernel()
            raise
        seconds = time.monotonic() - start
        done.append(Executed(name, target, seconds))
        if progress:
            progress(f"[{k}/{len(notebooks)}] {name} done in {seconds:.1f} s")
    return done
