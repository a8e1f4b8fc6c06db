"""The workbench: harness, reports and the `workbench` command."""
