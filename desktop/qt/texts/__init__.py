"""Every piece of window wording that is not about alerts or uncertainty, in one table.

Alert, uncertainty and "cannot assess" wording is a safety property and lives in
:mod:`desktop.verdict`, shared with the PDF and the command line. The rest of the window's
words live in the Qt layer's wording modules, never inline in a view, so they can be
reviewed and translated in one place:

* this package, one module per screen or noun:

  * ``main_window``: empty state, model state, opening, menus, samples, zoom, the result
    pane, the heat-map controls, and the words the other windows share (Close);
  * ``batch``: the batch's status line, summary, table and CSV export;
  * ``report``: the one-image PDF report and the "Printed" line of every PDF;
  * ``model_card``: the model card dialog;
  * ``adapt``: clinic adaptation (Model menu, adapt dialog, the model-in-use line);

* :mod:`desktop.qt.history_texts`: the lesion history (save to case, browser, timeline);
* :mod:`desktop.qt.followup_texts`: follow-up and filed reports.

Callers write ``from desktop.qt import texts`` and ``texts.X``: every name of the modules
above is re-exported here.
"""

from __future__ import annotations

from desktop.qt.texts.adapt import *  # noqa: F403
from desktop.qt.texts.batch import *  # noqa: F403
from desktop.qt.texts.main_window import *  # noqa: F403
from desktop.qt.texts.model_card import *  # noqa: F403
from desktop.qt.texts.report import *  # noqa: F403
