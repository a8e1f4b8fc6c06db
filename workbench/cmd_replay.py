"""Placeholder until its issue lands."""


def register(subparsers):  # type: ignore[no-untyped-def]
    pass
