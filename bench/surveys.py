"""Benchmark: SMS survey answers through the signed Twilio webhook, and the results page.

    .venv/bin/python bench/surveys.py [--contacts 10000] [--answers 100000] [--clients 8]
                                      [--rate 50] [--runs 5] [--backend postgresql|sqlite]

One fresh database (PostgreSQL at $BENCH_DATABASE_URL or
postgresql+psycopg://postgres@127.0.0.1:5432/test by default, SQLite with --backend sqlite):
an organization, 2 × --contacts contacts (bench/common.seed_contacts), a five-question
survey from the bank (app.surveys.builder) asked of the first --contacts through the engine
(`schedule_run` + `fan_out_due_runs`), its first questions marked sent (what the worker
does; an answer counts only once its question has left, app/surveys/flow.py).

1. The webhook. gunicorn with the checked-in config (app/gunicorn_conf.py, production
   settings) serves POST /webhooks/twilio/inbound, signed with X-Twilio-Signature exactly as
   Twilio signs (the auth token of the run, over PUBLIC_BASE_URL + path). --clients threads,
   each on its own keep-alive connection, send at --rate requests/s (an open loop: 10,000
   young people answer over minutes, not in one instant; 50/s is 10,000 answers in 3 min
   20 s, faster than a 10,000-recipient send at 100 MPS reaches them), or, with --rate 0,
   as fast as they can (the machine saturated: the time then measures the queue more than
   the handling):
   - reference: one plain reply ("gracias!") from each of the other --contacts contacts (no
     survey): the inbound path as it was (keywords, crisis classifier, conversation thread);
   - survey: one answer from each of the --contacts asked contacts: the answer
     is parsed and recorded, the next question queued (survey_started event), under the
     response's row lock.
   Per phase: the median and p95 time to handle one request, server side (gunicorn's access
   log, %(M)s: from the request read to the response written) and as the client saw it
   (with the queueing of --clients concurrent requests on this machine), and requests/s.
   Target: the survey answer's server-side median < 50 ms on PostgreSQL.

2. The results page at --answers answers: a campaign's baseline and follow-up runs of the
   survey (answers bulk-inserted: --answers / 10 contacts in each run, five questions each,
   with a shift), then GET /reports/surveys/<id> through gunicorn as the coordinator and as
   the evaluator (small-cell suppression), --runs times each (REPORTS_CACHE_SECONDS=0: no
   cache), next to the raw SQL GROUP BY of the same answers (run, question, value) in this
   process, and the figures + tables computed in-process (app.reports.surveys). Target: the
   page < 1 s (median) on PostgreSQL.

Figures are printed side by side with their references, and as BENCH_JSON lines.
"""

import argparse
import http.client
import queue
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from common import (
    database,
    free_port,
    make_app,
    postgres_url,
    print_table,
    seed_contacts,
    stop_process,
)
from sqlalchemy import func, insert, select, text, update
from web_load import server_env, sign_in, start_server, wait_until_up

TOKEN = "bench-auth-token-" + "5c1d" * 4
TARGET_ANSWER_MS = 50.0
TARGET_PAGE_S = 1.0
BANK_CODES = (
    "risk_fentanyl_once",
    "knows_fake_pills_fentanyl",
    "refusal_confidence",
    "knows_where_help",
    "talked_last_month",
)
COORDINATOR = ("coordinacion@bench.alcance.mx", "Bench-Coordinacion-Surveys-26")
EVALUATOR = ("evaluacion@bench.alcance.mx", "Bench-Evaluacion-Surveys-26")
TAG = "encuesta"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, round(q / 100 * len(ordered)))  # nearest rank
    return ordered[min(rank, len(ordered)) - 1]


# --- setup -------------------------------------------------------------------------------------


def prepare(url: str, contacts: int) -> dict:
    """Organization, users, contacts, the survey asked of the first `contacts` (first
    questions marked sent). Returns ids and phones."""
    from app.auth.services import create_user
    from app.contacts.audiences import create_audience
    from app.contacts.models import Contact, ContactTag
    from app.extensions import db
    from app.organizations.services import create_organization
    from app.outbox.models import OutboxMessage
    from app.surveys import builder, services

    app = make_app(url)
    with app.app_context():
        org = create_organization(
            slug="bench", name="Bench", country="MX", timezone="America/Mexico_City"
        )
        create_user(org, email=COORDINATOR[0], role="coordinator", password=COORDINATOR[1])
        create_user(org, email=EVALUATOR[0], role="evaluator", password=EVALUATOR[1])
        seed_contacts(org.id, 2 * contacts)
        rows = db.session.execute(
            select(Contact.id, Contact.phone)
            .where(Contact.organization_id == org.id)
            .order_by(Contact.id)
        ).all()
        asked, others = rows[:contacts], rows[contacts:]
        db.session.execute(insert(ContactTag), [dict(contact_id=c, name=TAG) for c, _p in asked])
        db.session.commit()
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        audience = create_audience(
            org.id, name="Encuesta", description=None, filters={"tags": [TAG]}, now=now
        )
        survey = builder.create_survey(
            organization_id=org.id,
            now=now,
            bank_codes=BANK_CODES,
            title_es="Encuesta de banco",
            title_en="Bench survey",
            intro_es="Hola, 5 preguntas.",
            intro_en="Hi, 5 questions.",
            thanks_es="¡Gracias!",
            thanks_en="Thanks!",
        )
        start = now + timedelta(minutes=2)
        local = start.astimezone(ZoneInfo(org.timezone))
        services.schedule_run(
            organization_id=org.id,
            survey_id=survey.id,
            kind="audience",
            audience_id=audience.id,
            local_date=local.date(),
            local_time=local.time(),
            now=now,
        )
        started = time.perf_counter()
        asked_n = services.fan_out_due_runs(now=start + timedelta(days=1))
        fan_out_s = time.perf_counter() - started
        # The worker sent them (statuses as the tests set them: tests/surveys/test_flow.py).
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.purpose == "survey")
            .values(status="sent", sent_at=now, prepared_at=now, send_started_at=now)
        )
        db.session.commit()
        ids = {"org": org.id, "survey": survey.id}
        db.session.remove()
        db.engine.dispose()
    return {
        "ids": ids,
        "asked": [p for _c, p in asked],
        "others": [p for _c, p in others],
        "asked_n": asked_n,
        "fan_out_s": fan_out_s,
        "app": app,
    }


# --- the webhook ---------------------------------------------------------------------------


def _signed(port: int, body: dict) -> tuple[str, dict]:
    from twilio.request_validator import RequestValidator

    url = f"http://127.0.0.1:{port}/webhooks/twilio/inbound"
    signature = RequestValidator(TOKEN).compute_signature(url, body)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
    }
    return urlencode(body), headers


def _params(phone: str, text_: str, n: int, tag: str) -> dict:
    sid = f"SM{tag}{n:030d}"[:34]
    return {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": phone,
        "To": "",
        "Body": text_,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }


def blast(port: int, messages: list[dict], clients: int, rate: float = 0) -> dict:
    """POST every message with `clients` threads (keep-alive connections); latencies.
    `rate` > 0: message i leaves at start + i / rate (an open loop, as young people answer
    over minutes); 0: as fast as the threads go (the server saturated)."""
    work: queue.Queue = queue.Queue()
    prepared = [_signed(port, m) for m in messages]
    for index, item in enumerate(prepared):
        work.put((index, item))
    latencies, errors, lock = [], [0], threading.Lock()
    begin = time.perf_counter() + 0.05

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        while True:
            try:
                index, (body, headers) = work.get_nowait()
            except queue.Empty:
                break
            if rate > 0:
                time.sleep(max(0.0, begin + index / rate - time.perf_counter()))
            started = time.perf_counter()
            try:
                conn.request("POST", "/webhooks/twilio/inbound", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            mine.append((time.perf_counter() - started) * 1000)
            if not ok:
                with lock:
                    errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = begin if rate > 0 else time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return {"latencies": latencies, "errors": errors[0], "rps": len(messages) / elapsed}


ACCESS = re.compile(r'"POST /webhooks/twilio/inbound" (\d{3}) \S+ (\d+)ms')


def server_ms(log_path: Path, offset: int) -> tuple[list[float], int]:
    """Server-side durations (ms) of the inbound webhooks logged after `offset`."""
    data = log_path.read_bytes()
    found = [float(m.group(2)) for m in ACCESS.finditer(data[offset:].decode("utf-8", "replace"))]
    return found, len(data)


# --- the results page ----------------------------------------------------------------------


def load_answers(app, ids: dict, n_answers: int, seed: int = 17) -> dict:
    """A campaign's baseline and follow-up runs, answered (bulk rows, with a shift)."""
    from app.campaigns.services import create_campaign
    from app.contacts.models import Contact
    from app.extensions import db
    from app.surveys.models import SurveyAnswer, SurveyQuestion, SurveyResponse, SurveyRun

    rng = random.Random(seed)
    per_run = n_answers // (2 * len(BANK_CODES))
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    with app.app_context():
        org_id, survey_id = ids["org"], ids["survey"]
        campaign = create_campaign(
            org_id, name="Campaña bench", topic="fentanyl", strategy="education", level="universal"
        )
        questions = db.session.execute(
            select(
                SurveyQuestion.id,
                SurveyQuestion.qtype,
                SurveyQuestion.scale_min,
                SurveyQuestion.scale_max,
            )
            .where(SurveyQuestion.survey_id == survey_id)
            .order_by(SurveyQuestion.position)
        ).all()
        contacts = db.session.execute(
            select(Contact.id, Contact.language)
            .where(Contact.organization_id == org_id)
            .order_by(Contact.id.desc())
            .limit(per_run)
        ).all()
        runs = {}
        for kind, days in (("baseline", 40), ("follow_up", 5)):
            run = SurveyRun(
                organization_id=org_id,
                survey_id=survey_id,
                kind=kind,
                campaign_id=campaign.id,
                follow_up_days=14 if kind == "follow_up" else None,
                local_date=(now - timedelta(days=days)).date(),
                local_time=now.time().replace(second=0),
                starts_at=now - timedelta(days=days),
                fanned_out_at=now - timedelta(days=days),
                closed_at=now - timedelta(days=days - 3),
                window_hours=24,
                status="closed",
                created_at=now - timedelta(days=days + 1),
            )
            db.session.add(run)
            db.session.flush()
            runs[kind] = (run.id, now - timedelta(days=days))
        db.session.commit()
        base = {}
        for kind, (run_id, at) in runs.items():
            responses = [
                dict(
                    organization_id=org_id,
                    run_id=run_id,
                    survey_id=survey_id,
                    contact_id=contact_id,
                    status="completed",
                    language=language,
                    reasked=False,
                    reminded=False,
                    invited_at=at,
                    asked_at=at,
                    started_at=at + timedelta(minutes=5),
                    completed_at=at + timedelta(minutes=5 + rng.randint(1, 30)),
                    closed_at=at + timedelta(minutes=40),
                )
                for contact_id, language in contacts
            ]
            db.session.execute(insert(SurveyResponse), responses)
            db.session.commit()
            response_ids = dict(
                db.session.execute(
                    select(SurveyResponse.contact_id, SurveyResponse.id).where(
                        SurveyResponse.run_id == run_id
                    )
                ).all()
            )
            rows = []
            for contact_id, _language in contacts:
                for q_id, qtype, low, high in questions:
                    key = (contact_id, q_id)
                    if qtype == "yesno":
                        value = float(rng.random() < (0.7 if kind == "follow_up" else 0.45))
                    else:
                        value = float(rng.randint(low, high))
                        if kind == "follow_up":
                            value = min(float(high), base[key] + rng.choice((0, 0, 1)))
                    skipped = rng.random() < 0.02
                    base[key] = value
                    rows.append(
                        dict(
                            organization_id=org_id,
                            response_id=response_ids[contact_id],
                            question_id=q_id,
                            contact_id=contact_id,
                            raw_text="SALTAR" if skipped else str(int(value)),
                            value_num=None if skipped else value,
                            skipped=skipped,
                            answered_at=at + timedelta(minutes=6),
                        )
                    )
                if len(rows) >= 20_000:
                    db.session.execute(insert(SurveyAnswer), rows)
                    rows = []
            if rows:
                db.session.execute(insert(SurveyAnswer), rows)
            db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.commit()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE survey_answers"))
                conn.execute(text("VACUUM ANALYZE survey_responses"))
        total = db.session.scalar(
            select(func.count())
            .select_from(SurveyAnswer)
            .where(SurveyAnswer.organization_id == org_id)
        )
        db.session.remove()
    return {"answers": total, "load_s": time.perf_counter() - started}


def _survey_outcomes(app) -> tuple[int, dict]:
    """Answers recorded, and what the inbound path made of the survey phase's messages."""
    from app.extensions import db
    from app.outbox.models import InboundMessage
    from app.surveys.models import SurveyAnswer

    with app.app_context():
        recorded = db.session.scalar(select(func.count()).select_from(SurveyAnswer))
        outcomes = dict(
            db.session.execute(
                select(InboundMessage.intent, func.count())
                .where(InboundMessage.twilio_sid.like("SMA%"))
                .group_by(InboundMessage.intent)
            ).all()
        )
        db.session.remove()
    return recorded, outcomes


def raw_group_by(app, ids: dict, runs: int) -> list[float]:
    from app.extensions import db

    sql = text(
        "SELECT r.run_id, a.question_id, a.value_num, a.skipped, count(*) "
        "FROM survey_answers a JOIN survey_responses r ON r.id = a.response_id "
        "WHERE a.organization_id = :org AND r.survey_id = :survey "
        "GROUP BY r.run_id, a.question_id, a.value_num, a.skipped"
    )
    walls = []
    with app.app_context():
        for _ in range(runs):
            started = time.perf_counter()
            db.session.execute(sql, {"org": ids["org"], "survey": ids["survey"]}).all()
            walls.append(time.perf_counter() - started)
        db.session.remove()
    return walls


def in_process(app, ids: dict, runs: int) -> list[float]:
    from app.reports.survey_tables import survey_tables
    from app.reports.surveys import survey_cells, survey_figures

    walls = []
    with app.app_context(), app.test_request_context():
        for _ in range(runs):
            started = time.perf_counter()
            figures = survey_figures(ids["org"], ids["survey"])
            cells = survey_cells(figures, 5, 5)
            survey_tables(figures, cells, ids["survey"], "es")
            walls.append(time.perf_counter() - started)
    return walls


def page_times(port: int, user: tuple[str, str], path: str, runs: int) -> list[float]:
    cookie = sign_in(port, *user)
    walls = []
    for _ in range(runs + 1):  # the first one warms a worker
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        started = time.perf_counter()
        try:
            conn.request("GET", path, headers={"Cookie": cookie})
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            # gunicorn's worker timeout (GUNICORN_TIMEOUT, 60 s) killed the request.
            return [float("inf")]
        finally:
            conn.close()
        walls.append(time.perf_counter() - started)
        if response.status != 200 or b"Q1" not in body:
            return [float("inf")]
    return walls[1:]


# --- the run ---------------------------------------------------------------------------------


def run(backend: str, args) -> list[tuple]:
    rows = []
    with database(backend) as url, tempfile.TemporaryDirectory() as tmp:
        print(f"[{backend}] setting up {2 * args.contacts:,} contacts and the survey…", flush=True)
        ready = prepare(url, args.contacts)
        app, ids = ready["app"], ready["ids"]
        port = free_port()
        env = server_env(url, port)
        env.update(
            {
                "TWILIO_AUTH_TOKEN": TOKEN,
                "INBOUND_SPOOL_DIR": tmp,
                "REPORTS_CACHE_SECONDS": "0",
                "GUNICORN_WORKERS": str(args.workers),
                "GUNICORN_THREADS": "2",
                "LOG_JSON": "0",
            }
        )
        log_path = Path(tmp) / "server.log"
        with open(log_path, "w") as log:
            server = start_server(env, log)
        try:
            wait_until_up(port, server)
            warm = [_params(p, "hola", n, "W") for n, p in enumerate(ready["others"][:50])]
            blast(port, warm, args.clients)
            _, offset = server_ms(log_path, 0)
            print(f"[{backend}] reference: {len(ready['others']):,} plain replies…", flush=True)
            ref = blast(
                port,
                [_params(p, "gracias!", n, "R") for n, p in enumerate(ready["others"])],
                args.clients,
                args.rate,
            )
            time.sleep(1)
            ref_server, offset = server_ms(log_path, offset)
            rng = random.Random(3)
            pace = f"{args.rate:g}/s" if args.rate > 0 else "flat out"
            print(f"[{backend}] survey: {len(ready['asked']):,} answers ({pace})…", flush=True)
            answers = blast(
                port,
                [_params(p, str(rng.randint(1, 4)), n, "A") for n, p in enumerate(ready["asked"])],
                args.clients,
                args.rate,
            )
            time.sleep(1)
            answer_server, offset = server_ms(log_path, offset)
            recorded, outcomes = _survey_outcomes(app)
            print(f"[{backend}] survey phase: inbound outcomes {outcomes}", flush=True)
            problems = [
                line
                for line in log_path.read_text(errors="replace").splitlines()
                if " WARNING " in line or " ERROR " in line
            ]
            if problems:
                print(f"[{backend}] server warnings/errors: {len(problems)}", flush=True)

            def ms(values, q):
                return f"{percentile(values, q):,.1f}"

            n = len(ready["asked"])
            rows += [
                (
                    "contacts asked (fan-out)",
                    f"{ready['asked_n']:,}",
                    f"{n:,}",
                    ready["asked_n"] == n,
                ),
                ("fan-out s", f"{ready['fan_out_s']:.1f}", "", None),
                ("answers recorded", f"{recorded:,}", f"{n:,}", recorded == n),
                (
                    "HTTP errors (reference / survey)",
                    f"{ref['errors']} / {answers['errors']}",
                    "0",
                    ref["errors"] == answers["errors"] == 0,
                ),
                ("plain reply: server median ms (reference)", ms(ref_server, 50), "", None),
                (
                    "survey answer: server median ms",
                    ms(answer_server, 50),
                    f"< {TARGET_ANSWER_MS:.0f}",
                    percentile(answer_server, 50) < TARGET_ANSWER_MS,
                ),
                ("plain reply: server p95 ms (reference)", ms(ref_server, 95), "", None),
                ("survey answer: server p95 ms", ms(answer_server, 95), "", None),
                (
                    f"plain reply: client median / p95 ms ({args.clients} thr.)",
                    f"{ms(ref['latencies'], 50)} / {ms(ref['latencies'], 95)}",
                    "",
                    None,
                ),
                (
                    f"survey answer: client median / p95 ms ({args.clients} thr.)",
                    f"{ms(answers['latencies'], 50)} / {ms(answers['latencies'], 95)}",
                    "",
                    None,
                ),
                ("plain reply: requests/s (reference)", f"{ref['rps']:,.0f}", "", None),
                ("survey answer: requests/s", f"{answers['rps']:,.0f}", "", None),
            ]

            print(f"[{backend}] results page: loading {args.answers:,} answers…", flush=True)
            loaded = load_answers(app, ids, args.answers)
            path = f"/reports/surveys/{ids['survey']}"
            coordinator = page_times(port, COORDINATOR, path, args.runs)
            evaluator = page_times(port, EVALUATOR, path, args.runs)
            raw = raw_group_by(app, ids, args.runs)
            figures = in_process(app, ids, 1)
            med = statistics.median
            rows += [
                (
                    "answers in the survey",
                    f"{loaded['answers']:,}",
                    f">= {args.answers:,}",
                    loaded["answers"] >= args.answers,
                ),
                ("raw SQL GROUP BY s (reference)", f"{med(raw):.3f}", "", None),
                ("figures + tables in-process s (evaluator's)", f"{med(figures):.3f}", "", None),
                (
                    "results page s (coordinator)",
                    f"{med(coordinator):.3f}",
                    f"< {TARGET_PAGE_S:.0f}",
                    med(coordinator) < TARGET_PAGE_S,
                ),
                (
                    "results page s (evaluator)",
                    f"{med(evaluator):.3f}",
                    f"< {TARGET_PAGE_S:.0f}",
                    med(evaluator) < TARGET_PAGE_S,
                ),
                ("results page worst s (evaluator)", f"{max(evaluator):.3f}", "", None),
            ]
        finally:
            stop_process(server)
            app_engine_dispose(app)
    return rows


def app_engine_dispose(app) -> None:
    from app.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--answers", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--rate",
        type=float,
        default=50.0,
        help="answers per second offered (open loop); 0 = as fast as the clients go",
    )
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backend", choices=("postgresql", "sqlite"))
    args = parser.parse_args()
    backend = args.backend or ("postgresql" if postgres_url() else "sqlite")
    if backend == "postgresql" and not postgres_url():
        sys.exit("PostgreSQL is not reachable (BENCH_DATABASE_URL)")
    rows = run(backend, args)
    print_table(
        f"SMS surveys ({backend}): {args.contacts:,} answers through the signed webhook, "
        f"results page at {args.answers:,} answers",
        rows,
    )


if __name__ == "__main__":
    main()
