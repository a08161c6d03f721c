"""Benchmark: the public API (/api/v1, issue 20) at 100,000 contacts on PostgreSQL.

    .venv/bin/python bench/api.py [--rows 100000] [--batch 1000] [--requests 200] [--keep]

1. Bulk upsert next to the CSV import. bench/contacts_import.py's generator writes one
   CSV (valid Mexican and US numbers in several written forms, ~2% bad rows, ~3%
   duplicates written another way). The same rows are loaded twice, each into a fresh
   database: through the CSV import (`create_import` + `apply_import`, as the import page
   does) and through `POST /api/v1/contacts/bulk` in batches of --batch rows, the rows as
   JSON (the CSV's columns under the API's field names). Both must create the same
   contacts. Target: the API within 2x the import's time.
2. List endpoints at that size: `GET /api/v1/contacts` (first page, a page deep in the
   cursor, a tag filter, a name search), `/api/v1/audiences`, `/api/v1/campaigns` and
   `/api/v1/workshops`, --requests each, median and p95, next to a raw SQL query of the
   same page as the reference. Target: p95 < 100 ms.

Requests go through the WSGI app in-process (Flask's test client: routing, key check,
per-key rate limit, validation, the queries, JSON), so the figures leave out the network
and gunicorn, which cost the same for every route (bench/web_load.py measures those).
PostgreSQL at $BENCH_DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test),
used only to create two throw-away databases.
"""

import argparse
import csv
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from common import ROOT, database, make_app, postgres_url, print_table
from contacts_import import generate

sys.path.insert(0, str(ROOT))

TARGET_RATIO = 2.0
TARGET_P95_MS = 100.0


def api_rows(path: Path) -> list[dict]:
    """The CSV's rows as the API's JSON (blank cells left out, as an import leaves them)."""
    out = []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for (
            phone,
            name,
            lang,
            year,
            gender,
            state,
            town,
            country,
            tags,
            source,
            guardian,
            _n,
        ) in reader:
            row = {"phone": phone, "first_name": name, "consent_source": source or "school"}
            if lang:
                row["language"] = lang
            if year.isdigit():
                row["birth_year"] = int(year)
            for key, value in (
                ("gender", gender),
                ("state", state),
                ("municipality", town),
                ("country", country),
            ):
                if value:
                    row[key] = value
            if tags:
                row["tags"] = [t.strip() for t in tags.split(",") if t.strip()]
            if guardian:
                row["guardian_consent"] = guardian.lower() in ("sí", "si", "yes")
            out.append(row)
    return out


def _org_and_key(settings_prefix: str):
    from app.api import keys
    from app.api.models import SCOPES
    from app.organizations.services import create_organization
    from app.timeutil import utcnow

    org = create_organization(
        slug=f"bench-{settings_prefix}",
        name="Bench",
        country="MX",
        timezone="America/Mexico_City",
    )
    new = keys.create_key(
        org.id, name="bench", scopes=list(SCOPES), expires_at=None, actor_id=None, now=utcnow()
    )
    return org, new.secret


def run_import(url: str, csv_path: Path) -> dict:
    from app.contacts import import_services
    from app.extensions import db
    from app.timeutil import utcnow

    app = make_app(url)
    with app.test_request_context():
        org, _secret = _org_and_key("import")
        data = csv_path.read_bytes()
        started = time.perf_counter()
        imp = import_services.create_import(
            org, user_id=None, filename="bench.csv", data=data, consent_source="school"
        )
        result = import_services.apply_import(imp, now=utcnow())
        seconds = time.perf_counter() - started
        db.session.remove()
        db.engine.dispose()
    return {
        "seconds": seconds,
        "created": result.created,
        "updated": result.updated,
        "rejected": result.rejected,
    }


def _bulk(client, headers, rows: list[dict], batch: int) -> dict:
    out = {"created": 0, "updated": 0, "rejected": 0}
    started = time.perf_counter()
    for start in range(0, len(rows), batch):
        answer = client.post(
            "/api/v1/contacts/bulk", json={"contacts": rows[start : start + batch]}, headers=headers
        )
        assert answer.status_code == 200, (answer.status_code, answer.get_data(as_text=True)[:500])
        counts = answer.get_json()
        for key in ("created", "updated", "rejected"):
            out[key] += counts[key]
    out["seconds"] = time.perf_counter() - started
    return out


def run_api(url: str, rows: list[dict], batch: int, requests: int) -> dict:
    from sqlalchemy import text

    from app.api.common import encode_cursor
    from app.extensions import db
    from app.timeutil import utcnow
    from tests.factories import make_audience, make_campaign, make_workshop

    app = make_app(url, API_RATE_LIMIT="1000000 per minute")
    out = {}
    with app.app_context():
        org, secret = _org_and_key("api")
        org_id = org.id
        for i in range(5):
            make_campaign(org, name=f"Campaña {i}")
        for i in range(5):
            make_audience(org, {}, name=f"Audiencia {i}")
        make_workshop(org, starts_at=utcnow().replace(microsecond=0) + timedelta(days=7))
        db.session.commit()
        db.session.remove()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    out.update(_bulk(client, headers, rows, batch))
    with app.app_context():
        ids = [
            r[0]
            for r in db.session.execute(
                text("SELECT id FROM contacts WHERE organization_id = :o ORDER BY id"),
                {"o": org_id},
            )
        ]
        db.session.remove()
    middle = ids[len(ids) // 2]
    rng = random.Random(7)

    def timed(get, n):
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            get()
            times.append((time.perf_counter() - t0) * 1000)
        return statistics.median(times), statistics.quantiles(times, n=20)[18]

    def api(path):
        def get():
            answer = client.get(path() if callable(path) else path, headers=headers)
            assert answer.status_code == 200, (path, answer.status_code)

        return get

    def raw(sql, params):
        def get():
            with app.app_context():
                db.session.execute(text(sql), params() if callable(params) else params).all()
                db.session.remove()

        return get

    page = "SELECT * FROM contacts WHERE organization_id = :o {} ORDER BY id DESC LIMIT 51"
    cases = [
        (
            "contacts, first page (50)",
            api("/api/v1/contacts"),
            raw(page.format("AND erased_at IS NULL"), {"o": org_id}),
        ),
        (
            "contacts, a random deep page (cursor)",
            api(lambda: f"/api/v1/contacts?cursor={encode_cursor('c', rng.choice(ids))}"),
            raw(
                page.format("AND erased_at IS NULL AND id < :c"),
                lambda: {"o": org_id, "c": rng.choice(ids)},
            ),
        ),
        (
            "contacts, page 200 deep, tag filter",
            api(f"/api/v1/contacts?limit=200&tag=prepa&cursor={encode_cursor('c', middle)}"),
            raw(
                "SELECT c.* FROM contacts c JOIN contact_tags ct ON ct.contact_id = c.id "
                "WHERE c.organization_id = :o AND ct.name = 'prepa' AND c.id < :c "
                "ORDER BY c.id DESC LIMIT 201",
                {"o": org_id, "c": middle},
            ),
        ),
        (
            "contacts, name search, a common name (q=mar)",
            api("/api/v1/contacts?q=mar"),
            raw(page.format("AND lower(first_name) LIKE '%mar%'"), {"o": org_id}),
        ),
        (
            # the worst case: no contact has it, so without an index every row is read
            "contacts, name search, a name nobody has (q=zuleima)",
            api("/api/v1/contacts?q=zuleima"),
            raw(page.format("AND lower(first_name) LIKE '%zuleima%'"), {"o": org_id}),
        ),
        (
            "audiences",
            api("/api/v1/audiences"),
            raw("SELECT * FROM audiences WHERE organization_id = :o LIMIT 51", {"o": org_id}),
        ),
        (
            "campaigns",
            api("/api/v1/campaigns"),
            raw("SELECT * FROM campaigns WHERE organization_id = :o LIMIT 51", {"o": org_id}),
        ),
        (
            "workshops (upcoming)",
            api("/api/v1/workshops"),
            raw("SELECT * FROM workshops WHERE organization_id = :o", {"o": org_id}),
        ),
    ]
    out["lists"] = []
    for label, api_get, raw_get in cases:
        for get in (api_get, raw_get):  # warm both
            get()
        api_median, api_p95 = timed(api_get, requests)
        raw_median, raw_p95 = timed(raw_get, requests)
        out["lists"].append((label, api_median, api_p95, raw_median, raw_p95))
    with app.app_context():
        db.engine.dispose()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args()
    if not postgres_url():
        print("PostgreSQL does not answer ($BENCH_DATABASE_URL): nothing measured")
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "contacts.csv"
        made = generate(csv_path, args.rows)
        rows = api_rows(csv_path)
        print(f"{len(rows)} rows ({made['bad']} bad, {made['duplicates']} duplicates)", flush=True)
        with database("postgresql", prefix="alcance_api_imp_", keep=args.keep) as url:
            imported = run_import(url, csv_path)
        with database("postgresql", prefix="alcance_api_", keep=args.keep) as url:
            through_api = run_api(url, rows, args.batch, args.requests)

    ratio = through_api["seconds"] / imported["seconds"]
    # A phone written twice in the file is one row for the import (the second is skipped)
    # and an update for the API (its batch names it again): the contacts made must agree.
    same = imported["created"] == through_api["created"]
    print(
        "\ncontacts created: "
        f"import {imported['created']} (+{imported['updated']} updated, "
        f"{imported['rejected']} rejected or skipped as duplicates), "
        f"API {through_api['created']} (+{through_api['updated']} updated, "
        f"{through_api['rejected']} rejected)"
    )
    print_table(
        f"API bulk upsert, {len(rows):,} contacts in batches of {args.batch} (PostgreSQL)",
        [
            ("CSV import (reference), s", f"{imported['seconds']:.1f}", "", None),
            ("API bulk upsert, s", f"{through_api['seconds']:.1f}", "", None),
            ("API / import", f"{ratio:.2f}x", f"<= {TARGET_RATIO:.0f}x", ratio <= TARGET_RATIO),
            ("same contacts created", str(same), "True", same),
        ],
    )
    print_table(
        f"API list endpoints at {len(rows):,} contacts, {args.requests} requests each "
        "(ms; reference: the raw SQL of the same page)",
        [
            (
                f"{label}: median / p95 (raw {raw_median:.1f} / {raw_p95:.1f})",
                f"{api_median:.1f} / {api_p95:.1f}",
                f"p95 < {TARGET_P95_MS:.0f}",
                api_p95 < TARGET_P95_MS,
            )
            for label, api_median, api_p95, raw_median, raw_p95 in through_api["lists"]
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
