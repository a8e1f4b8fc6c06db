"""The deployable content pipeline: sources, collection, storage, processor.

Imports neither `sim` nor `workbench`.
"""
