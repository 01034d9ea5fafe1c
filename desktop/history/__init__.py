"""Lesion history: patients, lesions, visits and results in a local SQLite case store.

Qt-free (``store``, ``images``, ``service``, ``cli``); the window's dialogs live in
``desktop.qt.controllers.history``. See the README section "Lesion history".
"""
