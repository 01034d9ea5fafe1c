"""Checks run by `make lint` that are not part of the app or the trainer."""
