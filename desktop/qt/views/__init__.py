"""Widgets that only lay out and paint; behaviour lives in the ``*controller`` modules."""
