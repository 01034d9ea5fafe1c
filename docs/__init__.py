"""The project's documents; a package only so that ``python -m docs.generate`` runs (never shipped)."""
