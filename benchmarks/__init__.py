"""LesionLens measurements: speed, size and scope of what ships, run as ``python -m benchmarks.<name>``.

A package (not loose scripts) so that every measurement shares one timing helper
(:mod:`benchmarks.timing`) and imports the app and trainer without editing ``sys.path``.
Run from the repository root.
"""
