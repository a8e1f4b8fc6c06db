"""Errors the user can act on; the CLI prints them as one line, without a traceback."""

from __future__ import annotations


class WorkbenchError(Exception):
    """A problem with the user's input or environment, said in one line."""
