"""Widgets that only lay out and paint; behaviour lives in :mod:`desktop.qt.controllers`."""
