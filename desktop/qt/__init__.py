"""The Qt layer: views hold layout, controllers hold behaviour, workers run inference.

Nothing in :mod:`desktop` outside this package imports Qt.
"""
