"""Labelled images in their native layouts: the label map, the source readers and records.

Shared by the trainer and the app's ``adapt`` command, so it imports neither TensorFlow nor
Qt nor ``trainer``. Read-only: nothing here ever writes into a data folder.
"""
