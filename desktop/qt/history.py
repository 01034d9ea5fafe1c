"""Old home of the case-history controller, now :mod:`desktop.qt.controllers.history`.

Kept only for ``benchmarks/history.py``, which imports it from here; delete this module
once that import names the controllers package.
"""

from desktop.qt.controllers.history import HistoryController, gui_data_dir

__all__ = ["HistoryController", "gui_data_dir"]
