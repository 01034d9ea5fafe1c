"""The case database's schema, as the migrations that build it, one version at a time.

A store opened by :class:`desktop.history.store.Store` is brought up to
:data:`SCHEMA_VERSION` by running each missing step; kept apart from the store's opening
and safety code so the schema's history reads on its own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

Step = str | Callable[[sqlite3.Connection], None]

# Migration N turns a version N-1 database into version N. Never edit a shipped
# step: add a new version instead. Steps run in one transaction with the
# version bump, so a failed migration leaves the old version untouched.
MIGRATIONS: dict[int, Sequence[Step]] = {
    1: (
        """CREATE TABLE schema_version (
            version INTEGER PRIMARY KEY,
            applied TEXT NOT NULL,
            app_version TEXT NOT NULL
        )""",
        """CREATE TABLE patient (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            created TEXT NOT NULL
        )""",
        """CREATE TABLE lesion (
            id INTEGER PRIMARY KEY,
            patient_id INTEGER NOT NULL REFERENCES patient(id) ON DELETE CASCADE,
            label TEXT NOT NULL,
            site TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            created TEXT NOT NULL,
            UNIQUE (patient_id, label)
        )""",
        """CREATE TABLE image (
            sha256 TEXT PRIMARY KEY,
            ext TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            added TEXT NOT NULL
        )""",
        """CREATE TABLE visit (
            id INTEGER PRIMARY KEY,
            lesion_id INTEGER NOT NULL REFERENCES lesion(id) ON DELETE CASCADE,
            taken TEXT NOT NULL,
            image_sha256 TEXT NOT NULL REFERENCES image(sha256),
            original_name TEXT NOT NULL DEFAULT '',
            note TEXT NOT NULL DEFAULT '',
            created TEXT NOT NULL
        )""",
        """CREATE TABLE result (
            id INTEGER PRIMARY KEY,
            visit_id INTEGER NOT NULL REFERENCES visit(id) ON DELETE CASCADE,
            probabilities TEXT NOT NULL,
            label TEXT NOT NULL,
            melanoma_probability REAL NOT NULL,
            alert_level TEXT NOT NULL,
            verdict TEXT,
            headline TEXT,
            threshold REAL NOT NULL,
            uncertain INTEGER NOT NULL,
            uncertain_reasons TEXT NOT NULL DEFAULT '[]',
            model_version TEXT NOT NULL,
            model_sha256 TEXT NOT NULL,
            created TEXT NOT NULL
        )""",
        "CREATE INDEX lesion_patient ON lesion(patient_id, label)",
        "CREATE INDEX visit_lesion ON visit(lesion_id, taken, id)",
        "CREATE INDEX visit_image ON visit(image_sha256)",
        "CREATE INDEX result_visit ON result(visit_id, id)",
    ),
    # Follow-up: laterality and a histology outcome per lesion, a decision and next review
    # per visit, an edit log (when, old and new value), and results that could not be
    # assessed keep no class, no probabilities and no melanoma figure (those columns
    # become nullable; a table rebuild, as SQLite cannot drop NOT NULL in place).
    2: (
        "ALTER TABLE lesion ADD COLUMN laterality TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE lesion ADD COLUMN outcome TEXT",
        "ALTER TABLE lesion ADD COLUMN outcome_date TEXT",
        "ALTER TABLE lesion ADD COLUMN outcome_note TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE lesion ADD COLUMN outcome_recorded TEXT",
        "ALTER TABLE visit ADD COLUMN decision TEXT",
        "ALTER TABLE visit ADD COLUMN next_review TEXT",
        """CREATE TABLE edit (
            id INTEGER PRIMARY KEY,
            lesion_id INTEGER NOT NULL REFERENCES lesion(id) ON DELETE CASCADE,
            visit_id INTEGER REFERENCES visit(id) ON DELETE CASCADE,
            field TEXT NOT NULL,
            old_value TEXT,
            new_value TEXT,
            edited TEXT NOT NULL
        )""",
        "CREATE INDEX edit_lesion ON edit(lesion_id, id)",
        "CREATE INDEX edit_visit ON edit(visit_id, id)",
        "CREATE INDEX visit_review ON visit(next_review)",
        """CREATE TABLE result_v2 (
            id INTEGER PRIMARY KEY,
            visit_id INTEGER NOT NULL REFERENCES visit(id) ON DELETE CASCADE,
            probabilities TEXT,
            label TEXT,
            melanoma_probability REAL,
            alert_level TEXT NOT NULL,
            verdict TEXT,
            headline TEXT,
            threshold REAL NOT NULL,
            uncertain INTEGER NOT NULL,
            uncertain_reasons TEXT NOT NULL DEFAULT '[]',
            model_version TEXT NOT NULL,
            model_sha256 TEXT NOT NULL,
            created TEXT NOT NULL
        )""",
        """INSERT INTO result_v2 SELECT id, visit_id,
               CASE WHEN ok THEN probabilities END, CASE WHEN ok THEN label END,
               CASE WHEN ok THEN melanoma_probability END,
               alert_level, verdict, headline, threshold, uncertain, uncertain_reasons,
               model_version, model_sha256, created
           FROM (SELECT *, 'cannot_assess' NOT IN (alert_level, COALESCE(verdict, '')) AS ok
                 FROM result)""",
        "DROP TABLE result",
        "ALTER TABLE result_v2 RENAME TO result",
        "CREATE INDEX result_visit ON result(visit_id, id)",
    ),
}
SCHEMA_VERSION = max(MIGRATIONS)
