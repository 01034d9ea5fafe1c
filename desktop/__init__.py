"""LesionLens desktop app: an offline decision aid for dermoscopy images.

The package root stays import-light (no Qt, no TensorFlow) so the trainer, the
command line and the PyInstaller spec can read the name and version cheaply.
"""

APP_NAME = "LesionLens"
__version__ = "0.1.0"
