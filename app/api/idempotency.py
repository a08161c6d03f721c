"""`Idempotency-Key` on POST: a retry with the same key and the same request gets the first
response back and changes nothing; the same key with another request is refused (422).

The first request claims the key (a row committed before the work starts, unique per API
key), so a concurrent duplicate waits for nothing and is told it is running (409). The
response is kept once the work is done; a request that failed (an error response or an
exception) gives the key back, so the client can retry it. Keys are kept for
`KEEP_HOURS`; an older key counts as new.
"""

import hashlib
from datetime import timedelta
from functools import wraps

from flask import Response, g, make_response, request
from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from app.api.models import ApiIdempotentRequest
from app.api.problems import ApiProblem
from app.extensions import db
from app.timeutil import utcnow

HEADER = "Idempotency-Key"
KEEP_HOURS = 24
MAX_KEY_CHARS = 255
REPLAY_HEADER = "Idempotent-Replayed"


def _request_hash() -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.query_string.decode("latin-1")):
        digest.update(part.encode() + b"\0")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _find(key_id: int, value: str) -> ApiIdempotentRequest | None:
    return db.session.scalar(
        select(ApiIdempotentRequest).where(
            ApiIdempotentRequest.api_key_id == key_id,
            ApiIdempotentRequest.idempotency_key == value,
        )
    )


def _answer(row: ApiIdempotentRequest, digest: str) -> Response:
    if row.request_hash != digest:
        raise ApiProblem(
            "idempotency_key_reused",
            _("This Idempotency-Key was used with another request: use a new key."),
        )
    if row.status is None:
        raise ApiProblem(
            "idempotency_in_progress",
            _("The first request with this Idempotency-Key is still running: retry later."),
            headers={"Retry-After": "1"},
        )
    response = Response(row.body or "", row.status, mimetype="application/json")
    if row.location:
        response.headers["Location"] = row.location
    response.headers[REPLAY_HEADER] = "true"
    return response


def _claim(key_id: int, value: str, digest: str) -> ApiIdempotentRequest | Response:
    """The new claim, or the answer to a key already used."""
    now = utcnow()
    row = _find(key_id, value)
    if row is not None and row.created_at < now - timedelta(hours=KEEP_HOURS):
        db.session.delete(row)
        db.session.commit()
        row = None
    if row is not None:
        return _answer(row, digest)
    claim = ApiIdempotentRequest(
        api_key_id=key_id, idempotency_key=value, request_hash=digest, created_at=now
    )
    db.session.add(claim)
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent request claimed it first
        db.session.rollback()
        row = _find(key_id, value)
        if row is None:
            raise
        return _answer(row, digest)
    return claim


def _give_back(claim_id: int) -> None:
    db.session.rollback()
    db.session.execute(delete(ApiIdempotentRequest).where(ApiIdempotentRequest.id == claim_id))
    db.session.commit()


def idempotent(view):
    """Decorate a POST view (outside its schema decorators, so a replay skips them too)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        value = request.headers.get(HEADER)
        if value is None:
            return view(*args, **kwargs)
        if not value.strip() or len(value) > MAX_KEY_CHARS or not value.isprintable():
            raise ApiProblem(
                "bad_request",
                _("Idempotency-Key must be 1 to %(n)d printable characters.", n=MAX_KEY_CHARS),
            )
        key_id = g.api_key.id
        claimed = _claim(key_id, value, _request_hash())
        if isinstance(claimed, Response):
            return claimed
        claim_id = claimed.id
        try:
            response = make_response(view(*args, **kwargs))
        except BaseException:
            _give_back(claim_id)
            raise
        if response.status_code >= 400:
            _give_back(claim_id)
            return response
        row = db.session.get(ApiIdempotentRequest, claim_id)
        row.status = response.status_code
        row.body = response.get_data(as_text=True)
        row.location = response.headers.get("Location")
        db.session.commit()
        return response

    return wrapped


def purge_idempotent_requests(*, now) -> int:
    """Forget the kept responses older than KEEP_HOURS (the worker's maintenance)."""
    deleted = db.session.execute(
        delete(ApiIdempotentRequest).where(
            ApiIdempotentRequest.created_at < now - timedelta(hours=KEEP_HOURS)
        )
    ).rowcount
    db.session.commit()
    return deleted
