"""Trainer: rebuilds the LesionLens model from a folder of labelled images.

audit -> split -> balance -> train -> evaluate -> export; see ``python -m trainer --help``.
"""

from desktop import __version__

TRAINER_VERSION = __version__
