"""The reference for bench/links.py: the least a short-link redirect can do, as a minimal
Flask app served by the same gunicorn settings (app/gunicorn_conf.py).

- GET /l/<code>: one raw SQL lookup of the destination by code, then a 302 (no checks, no
  counting);
- GET /u/<code>: the same lookup, then a raw `UPDATE ... SET clicks = clicks + 1` in the
  same transaction (what counting a click costs at least).

Run by bench/links.py with DATABASE_URL set; not part of the application.
"""

import os

from flask import Flask, Response
from sqlalchemy import create_engine, text

engine = create_engine(os.environ["DATABASE_URL"], pool_size=4, max_overflow=4)
app = Flask(__name__)
LOOKUP = text("SELECT id, destination FROM tracked_links WHERE code = :code")
COUNT = text("UPDATE tracked_links SET clicks = clicks + 1 WHERE id = :id")


@app.get("/healthz")
def healthz():
    return "ok"


@app.get("/l/<code>")
def lookup_only(code):
    with engine.connect() as conn:
        row = conn.execute(LOOKUP, {"code": code}).first()
    if row is None:
        return Response(status=404)
    return Response(status=302, headers={"Location": row.destination})


@app.get("/u/<code>")
def lookup_and_count(code):
    with engine.begin() as conn:
        row = conn.execute(LOOKUP, {"code": code}).first()
        if row is None:
            return Response(status=404)
        conn.execute(COUNT, {"id": row.id})
    return Response(status=302, headers={"Location": row.destination})
