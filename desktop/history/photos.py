"""Stored photos: copying one into the image store, checking it against its SHA-256 before
use, and bringing quarantined photos back as visits.

A photo is addressed by its hash, so any change to its bytes is caught; a photo found
without its visit is moved to ``quarantine/`` (never deleted) and ``recover`` turns it
back into a visit. A mixin of :class:`desktop.history.service.History`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from desktop.history.images import StoredImage, normal_ext, sha256_file
from desktop.history.queries import CaseQueries
from desktop.history.records import HistoryError, check_lesion, check_patient
from desktop.history.store import DamagedPhotoError, now_utc

RECOVERED_PATIENT = "recovered"
RECOVERED_LESION = "recovered photos"
RECOVERED_NOTE = "recovered: photo found in quarantine/ without its visit; not yet classified"


@dataclass
class RecoverReport:
    """What ``recover`` did: new visit ids, duplicates dropped, files it could not use (why)."""

    visit_ids: list[int] = field(default_factory=list)
    duplicates: int = 0
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def _unrecoverable(path: Path, sha: str) -> str:
    """Why a quarantined file cannot become a visit ('' when it can)."""
    from desktop.imaging import ImageLoadError, open_image

    try:
        if sha256_file(path) != sha:
            return "its bytes do not match the SHA-256 in its name"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    try:
        open_image(path)
    except ImageLoadError as exc:
        return f"not a usable image ({str(exc).split(': ', 1)[-1]})"
    return ""


class Photos(CaseQueries):
    """The visits' photos in the image store: put, verified, recovered from quarantine."""

    def _put_image(self, source: Path | bytes, name: str, ext: str | None = None) -> StoredImage:
        """Inside a transaction: copy the image in and record it.

        A file that did not exist before is removed again if the transaction
        rolls back (while the write lock is still held, so no other writer can
        have started using it).
        """
        images = self.store.images
        if isinstance(source, bytes):
            stored = images.put_bytes(source, ext or normal_ext(name))
        else:
            stored = images.put(source, ext)
        if stored.new:
            self.store.on_rollback(lambda: images.remove(stored.sha256, stored.ext))
        self.conn.execute(
            "INSERT INTO image (sha256, ext, bytes, added) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(sha256) DO NOTHING",
            (stored.sha256, stored.ext, stored.size, now_utc()),
        )
        row = self.conn.execute(
            "SELECT ext FROM image WHERE sha256 = ?", (stored.sha256,)
        ).fetchone()
        if row["ext"] != stored.ext:  # same bytes stored earlier under another extension
            if stored.new:
                images.remove(stored.sha256, stored.ext)
            return StoredImage(stored.sha256, row["ext"], stored.size, new=False)
        return stored

    def verified_photo(self, visit_id: int) -> Path:
        """The visit's photo after checking it against its SHA-256 (DamagedPhotoError if not)."""
        row = self.conn.execute(
            "SELECT image_sha256 FROM visit WHERE id = ?", (visit_id,)
        ).fetchone()
        if row is None:
            raise HistoryError(f"no visit with id {visit_id}")
        return self.store.verified_image(row["image_sha256"], f"the photo of visit {visit_id}")

    def recover(
        self, patient: str = RECOVERED_PATIENT, lesion: str = RECOVERED_LESION
    ) -> RecoverReport:
        """Quarantined photos back as visits of ``patient``/``lesion`` (no result: re-classify).

        Each file must match the SHA-256 in its name and decode as an image; the
        visit's date is the file's modification time (when it was stored) and
        its note says it was recovered. A photo already stored as a visit is a
        duplicate: its quarantined copy is removed once the stored one checks out.
        """
        code, label = check_patient(patient), check_lesion(lesion)
        report = RecoverReport()
        for sha, ext, path in self.store.quarantined():
            why = _unrecoverable(path, sha)
            if why:
                report.skipped.append((path, why))
                continue
            taken = min(date.fromtimestamp(path.stat().st_mtime), date.today()).isoformat()
            with self.store.write():
                if self._photo_in_use(sha):
                    report.duplicates += 1
                else:
                    lesion_id = self._ensure_lesion(code, label, None, "")
                    stored = self._put_image(path, path.name, ext)
                    cur = self.conn.execute(
                        """INSERT INTO visit (lesion_id, taken, image_sha256, original_name,
                               note, created) VALUES (?, ?, ?, ?, ?, ?)""",
                        (lesion_id, taken, stored.sha256, path.name, RECOVERED_NOTE, now_utc()),
                    )
                    report.visit_ids.append(int(cur.lastrowid))
            path.unlink()  # its bytes are now in images/, checked by hash
        return report

    def _photo_in_use(self, sha: str) -> bool:
        """Inside a transaction: a visit already uses this photo and the stored copy is good."""
        used = self.conn.execute("SELECT 1 FROM visit WHERE image_sha256 = ?", (sha,)).fetchone()
        if used is None:
            return False
        with contextlib.suppress(DamagedPhotoError):
            self.store.verified_image(sha)
            return True
        return False
