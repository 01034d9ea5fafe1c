"""The window's behaviour, one controller per thing it controls; views only lay out.

- :mod:`~desktop.qt.controllers.main`: :class:`MainController`, the main window (open, drop,
  paste, select, save); it owns the three below.
- :mod:`~desktop.qt.controllers.batch`: :class:`BatchController`, a classification job's rows,
  progress and summary.
- :mod:`~desktop.qt.controllers.image`: :class:`ImageController`, the photo and its heat layer.
- :mod:`~desktop.qt.controllers.reports`: :class:`ReportController`, the clinician's name and
  the batch report.
- :mod:`~desktop.qt.controllers.model`: :class:`ModelController`, the model in use; it owns
  :mod:`~desktop.qt.controllers.adapt` (:class:`AdaptController`, Model ▸ Adapt to this clinic).
- :mod:`~desktop.qt.controllers.history`: :class:`HistoryController`, Save to case and the case
  browser; it owns :mod:`~desktop.qt.controllers.timeline` (:class:`TimelineController`, a
  lesion's visits side by side) and :mod:`~desktop.qt.controllers.follow_up`
  (:class:`FollowUpController`, visit edits, histology, reviews due).

:func:`desktop.qt.app.build_window` builds the main, history and model controllers.
"""
