"""The CDS Hooks feedback store: an embedded SQLite database (stdlib ``sqlite3``).

It keeps, per CDS service: the cards issued (uuid, kind, rule, triage level, model version, time;
never the answers), the feedback clinicians' systems send (accepted / overridden, the override
reason, the outcome timestamp), and the JWT ids seen (replay protection).

Several gunicorn workers share one file: each thread of each worker has its own connection, the
database runs in WAL mode with a busy timeout, and each write is one transaction, so concurrent writers
wait for each other instead of losing rows (``synchronous=NORMAL``: durable across a crash of the
service, not necessarily across a power cut). Feedback is idempotent: the same card, outcome and
outcome timestamp sent twice is stored once.

Path: ``feedback_db`` in the app's config or ``HIPDX_FEEDBACK_DB``; by default
``$XDG_STATE_HOME/hipdx/feedback.sqlite3`` (``~/.local/state/hipdx/feedback.sqlite3``). The file is
created on first use.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .cds import IssuedCard

SCHEMA = """
CREATE TABLE IF NOT EXISTS cards (
    uuid TEXT PRIMARY KEY, service TEXT NOT NULL, kind TEXT NOT NULL, rule TEXT NOT NULL, level TEXT,
    model_version TEXT NOT NULL, issued_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT, service TEXT NOT NULL, card TEXT NOT NULL, outcome TEXT NOT NULL,
    override_system TEXT, override_code TEXT, override_display TEXT, user_comment TEXT,
    accepted_suggestions INTEGER NOT NULL DEFAULT 0, outcome_timestamp TEXT NOT NULL, received_at REAL NOT NULL,
    UNIQUE (service, card, outcome, outcome_timestamp));
CREATE INDEX IF NOT EXISTS feedback_service ON feedback (service);
CREATE TABLE IF NOT EXISTS jwt_ids (
    issuer TEXT NOT NULL, jti TEXT NOT NULL, expires REAL NOT NULL, PRIMARY KEY (issuer, jti));
"""


def default_path() -> Path:
    """``$XDG_STATE_HOME/hipdx/feedback.sqlite3`` (``~/.local/state`` when unset)."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "hipdx" / "feedback.sqlite3"


def configured_path(config: Mapping[str, Any]) -> Path:
    """The database path from ``config['feedback_db']``, ``HIPDX_FEEDBACK_DB`` or the default."""
    value = config.get("feedback_db") or os.environ.get("HIPDX_FEEDBACK_DB")
    return Path(value) if value else default_path()


class FeedbackStore:
    """Cards issued, feedback received and JWT ids seen, in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._ready = False
        self._lock = threading.Lock()
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (opened once per thread and process: closing the last
        connection to a WAL database checkpoints it with an fsync, ~25 ms a call here)."""
        local = self._local
        if getattr(local, "con", None) is None or local.pid != os.getpid():
            if not self._ready:
                with self._lock:
                    if not self._ready:
                        self.path.parent.mkdir(parents=True, exist_ok=True)
                        con = sqlite3.connect(self.path, timeout=30)
                        try:
                            con.execute("PRAGMA journal_mode=WAL")
                            con.executescript(SCHEMA)
                            con.commit()
                        finally:
                            con.close()
                        self._ready = True
            con = sqlite3.connect(self.path, timeout=30)
            con.execute("PRAGMA busy_timeout=30000")
            # WAL + NORMAL: a commit survives a crash of the service (not necessarily a power cut).
            con.execute("PRAGMA synchronous=NORMAL")
            local.con, local.pid = con, os.getpid()
        return local.con

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = self._connection()
        with con:  # one transaction: committed on success, rolled back on error
            yield con

    # ------------------------------------------------------------------ cards issued
    def record_cards(self, service: str, model_version: str, cards: Iterable[IssuedCard]) -> None:
        """Remember what each issued card was about (for the feedback summary)."""
        rows = [(c.uuid, service, c.kind, c.rule, c.level, model_version, time.time()) for c in cards]
        if not rows:
            return
        with self._connect() as con:
            con.executemany("INSERT OR IGNORE INTO cards VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    # ------------------------------------------------------------------ feedback
    def add_feedback(self, service: str, entries: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
        """Store validated feedback entries (CDS Hooks 2.0 Feedback objects); (stored, duplicates)."""
        rows = []
        for e in entries:
            reason = (e.get("overrideReason") or {})
            coding = reason.get("reason") or {}
            rows.append((service, e["card"], e["outcome"], coding.get("system"), coding.get("code"), coding.get("display"),
                         reason.get("userComment"), len(e.get("acceptedSuggestions") or []), e["outcomeTimestamp"],
                         time.time()))
        with self._connect() as con:
            before = con.total_changes
            con.executemany("INSERT OR IGNORE INTO feedback (service, card, outcome, override_system, override_code, "
                            "override_display, user_comment, accepted_suggestions, outcome_timestamp, received_at) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            stored = con.total_changes - before
        return stored, len(rows) - stored

    def count(self, service: str) -> int:
        with self._connect() as con:
            return int(con.execute("SELECT COUNT(*) FROM feedback WHERE service = ?", (service,)).fetchone()[0])

    def summary(self, service: str) -> dict[str, Any]:
        """Feedback per card kind and rule (and model version): cards issued, accepted, overridden,
        and the override reasons given. For the people who maintain the priors."""
        with self._connect() as con:
            totals = dict(con.execute("SELECT outcome, COUNT(*) FROM feedback WHERE service = ? GROUP BY outcome",
                                      (service,)).fetchall())
            issued = con.execute("SELECT kind, rule, model_version, COUNT(*) FROM cards WHERE service = ? "
                                 "GROUP BY kind, rule, model_version", (service,)).fetchall()
            outcomes = con.execute(
                "SELECT c.kind, c.rule, c.model_version, f.outcome, COUNT(*) FROM feedback f JOIN cards c ON c.uuid = f.card "
                "WHERE f.service = ? GROUP BY c.kind, c.rule, c.model_version, f.outcome", (service,)).fetchall()
            reasons = con.execute(
                "SELECT c.kind, c.rule, c.model_version, f.override_system, f.override_code, f.override_display, COUNT(*), "
                "SUM(f.user_comment IS NOT NULL AND f.user_comment != '') "
                "FROM feedback f JOIN cards c ON c.uuid = f.card WHERE f.service = ? AND f.outcome = 'overridden' "
                "GROUP BY c.kind, c.rule, c.model_version, f.override_system, f.override_code", (service,)).fetchall()
            unknown = con.execute("SELECT COUNT(*) FROM feedback f LEFT JOIN cards c ON c.uuid = f.card "
                                  "WHERE f.service = ? AND c.uuid IS NULL", (service,)).fetchone()[0]
        groups: dict[tuple[str, str, str], dict[str, Any]] = {}

        def group(kind: str, rule: str, version: str) -> dict[str, Any]:
            return groups.setdefault((kind, rule, version), {"kind": kind, "rule": rule, "model_version": version, "issued": 0,
                                                             "accepted": 0, "overridden": 0, "override_reasons": []})

        for kind, rule, version, n in issued:
            group(kind, rule, version)["issued"] = n
        for kind, rule, version, outcome, n in outcomes:
            group(kind, rule, version)[outcome] = n
        for kind, rule, version, system, code, display, n, comments in reasons:
            group(kind, rule, version)["override_reasons"].append(
                {"system": system, "code": code, "display": display, "count": n, "with_comment": int(comments or 0)})
        by_card = sorted(groups.values(), key=lambda g: (-(g["accepted"] + g["overridden"]), g["kind"], g["rule"]))
        for g in by_card:
            answered = g["accepted"] + g["overridden"]
            g["override_rate"] = round(g["overridden"] / answered, 4) if answered else None
        return {"service": service, "feedback": sum(totals.values()), "accepted": totals.get("accepted", 0),
                "overridden": totals.get("overridden", 0), "feedback_on_unknown_cards": int(unknown), "by_card": by_card}

    # ------------------------------------------------------------------ JWT replay
    def jti_is_new(self, issuer: str, jti: str, expires: float) -> bool:
        """Record a JWT id; False when the same issuer's id was already seen and has not expired."""
        now = time.time()
        with self._connect() as con:
            con.execute("DELETE FROM jwt_ids WHERE expires < ?", (now,))
            cur = con.execute("INSERT OR IGNORE INTO jwt_ids VALUES (?, ?, ?)", (issuer, jti, float(expires)))
            return cur.rowcount == 1
