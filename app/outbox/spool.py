"""Signed Twilio webhooks are never lost to database errors.

Twilio does not retry an inbound webhook, and any one of them may be a STOP. So a webhook
whose signature was checked is processed with retries on dropped connections (the pool's
pre-ping then hands out a live connection), and when the database is still unreachable its
validated fields are appended to a durable local spool; only then is it answered 2xx.

The spool is one JSON line per request (`twilio-webhooks.jsonl` under INBOUND_SPOOL_DIR, by
default the instance directory), written with O_APPEND and fsynced. It holds phone numbers
and message bodies: the directory is 0700 and the files 0600. It is replayed in arrival order
(by the worker's maintenance, and by the next webhook once the database answers, so live
traffic never overtakes what was spooled before it); replay is idempotent (inbound messages
dedupe by MessageSid, status callbacks never move a message backwards), so a crash between
processing and truncating only replays entries again. Writers and replayers hold an fcntl
lock on a sibling lock file, so several web processes and workers on one host share it;
each host has its own spool (run a worker on every web host, or let its traffic drain it).
An entry that fails for another reason than the database is set aside in
`twilio-webhooks.failed.jsonl` for a person to look at, instead of blocking the spool.
"""

import fcntl
import json
import logging
import os
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from app.extensions import db
from app.outbox.inbound import receive_sms
from app.outbox.status import apply_status_callback

logger = logging.getLogger("alcance.webhooks")
SPOOL_NAME = "twilio-webhooks.jsonl"
FAILED_NAME = "twilio-webhooks.failed.jsonl"
LOCK_NAME = "twilio-webhooks.lock"
RETRY_PAUSES = (0.1, 0.5)  # seconds before the 2nd and 3rd attempt; then spool
REPLAY_BATCH = 200  # entries per lock hold (writers wait at most one batch)
REQUEST_REPLAY = 20  # entries a webhook request replays before answering
FORMAT = 1


class DatabaseUnavailable(Exception):
    """The database did not answer after the retries."""


def database_unavailable(error: BaseException) -> bool:
    """A lost/refused connection, a server going away, a deadlock or a full pool: worth
    retrying later. Integrity and programming errors are not."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, (OperationalError, InterfaceError, PoolTimeoutError))


def spool_dir() -> Path:
    return Path(current_app.config.get("INBOUND_SPOOL_DIR") or current_app.instance_path)


def _process(entry: dict) -> str:
    fields, received_at = entry["fields"], datetime.fromisoformat(entry["received_at"])
    if entry["kind"] == "inbound":
        gateway = current_app.extensions["sms_gateway"]
        return receive_sms(
            sid=fields["MessageSid"],
            from_number=fields["From"],
            # A tapped button's Body is its text; ButtonText when a provider leaves Body out.
            body=fields["Body"] or fields.get("ButtonText", ""),
            to_number=fields["To"] or None,
            messaging_service_sid=fields["MessagingServiceSid"] or None,
            now=received_at,
            provider_answers_keywords=getattr(gateway, "answers_standard_keywords", False),
            # Entries spooled before WhatsApp have no button fields.
            button_payload=fields.get("ButtonPayload") or None,
        )
    if entry["kind"] == "status":
        changed = apply_status_callback(
            fields["MessageSid"],
            fields["MessageStatus"],
            fields["ErrorCode"] or None,
            now=received_at,
        )
        return "applied" if changed else "unchanged"
    raise ValueError(f"unknown spool entry kind {entry['kind']!r}")


def _rollback() -> None:
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection is gone; the pool replaces it
        logger.debug("rollback after a database error failed too")


def _with_retries(entry: dict) -> str:
    for pause in (*RETRY_PAUSES, None):
        try:
            return _process(entry)
        except (DBAPIError, PoolTimeoutError) as error:
            _rollback()
            if not database_unavailable(error):
                raise
            logger.warning(
                "database error on a %s webhook (%s)%s",
                entry["kind"],
                type(error).__name__,
                "; retrying" if pause is not None else "",
            )
            if pause is None:
                raise DatabaseUnavailable from None  # the statement's parameters hold PII
            time.sleep(pause)
    raise AssertionError("unreachable")


def accept(kind: str, fields: dict, *, received_at: datetime) -> str:
    """Process one validated webhook now, or keep it in the spool. Returns the outcome, or
    "spooled". Raises OSError when it could be neither processed nor spooled (answer 5xx)."""
    entry = {"v": FORMAT, "kind": kind, "received_at": received_at.isoformat(), "fields": fields}
    if has_entries():
        append(entry)  # behind what is already waiting, so the order stays the arrival order
        try:
            replay(limit=REQUEST_REPLAY, blocking=False)
        except Exception:  # noqa: BLE001 - it is on disk: a later replay will take it
            logger.warning("replaying the webhook spool failed; the worker will retry")
        return "spooled"
    try:
        return _with_retries(entry)
    except DatabaseUnavailable:
        append(entry)
        logger.warning(
            "database unavailable: %s webhook %s spooled", kind, fields.get("MessageSid")
        )
        return "spooled"


def has_entries() -> bool:
    try:
        return (spool_dir() / SPOOL_NAME).stat().st_size > 0
    except FileNotFoundError:
        return False


@contextmanager
def _locked(directory: Path, *, blocking: bool = True):
    """Yield True holding the spool's lock (False when busy and not `blocking`)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # also releases the lock


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _append_lines(path: Path, data: bytes) -> None:
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask, or an older file's mode
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _fsync_dir(path.parent)  # the new file's name is durable too


def append(entry: dict) -> None:
    """Durably add one entry at the end of the spool (fsynced before returning)."""
    directory = spool_dir()
    line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    with _locked(directory):
        _append_lines(directory / SPOOL_NAME, line)


def _keep_only(path: Path, lines: list[bytes]) -> None:
    """Replace the spool by its unreplayed tail (atomically: a crash keeps the old one)."""
    if not lines:
        path.unlink(missing_ok=True)
    else:
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        _append_lines(tmp, b"".join(lines))
        os.replace(tmp, path)
    _fsync_dir(path.parent)


def replay(*, limit: int = REPLAY_BATCH, blocking: bool = True) -> tuple[int, bool]:
    """Process up to `limit` spooled entries in order. Returns (entries taken off the
    spool, whether it stopped because the database is unavailable)."""
    directory = spool_dir()
    path = directory / SPOOL_NAME
    if not has_entries():
        return 0, False
    with _locked(directory, blocking=blocking) as held:
        if not held:
            return 0, False
        lines = path.read_bytes().splitlines(keepends=True) if path.exists() else []
        done, set_aside, stalled = 0, [], False
        for line in lines[:limit]:
            try:
                entry = json.loads(line)
                _process(entry)
            except Exception as error:  # noqa: BLE001 - one bad entry must not block the rest
                _rollback()
                if database_unavailable(error):
                    stalled = True
                    break
                logger.error("webhook spool entry set aside (%s)", type(error).__name__)
                set_aside.append(line if line.endswith(b"\n") else line + b"\n")
            done += 1
        if set_aside:
            _append_lines(directory / FAILED_NAME, b"".join(set_aside))
        if done:
            _keep_only(path, lines[done:])
    if done:
        logger.info("webhook spool replayed=%d left=%d", done, len(lines) - done)
    return done, stalled


def drain() -> int:
    """Replay the whole spool, batch by batch, until it is empty or the database stops
    answering (worker maintenance). Returns how many entries were taken off it."""
    total = 0
    while True:
        done, stalled = replay()
        total += done
        if stalled or not done:
            return total
