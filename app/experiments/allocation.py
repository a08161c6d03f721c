"""Assigning contacts to arms in the database: the whole audience at start, and whoever a
fan-out reaches later ("assigned on entry"). What fan-out and the outbox guard need to
know about a campaign's experiment lives here too.

Hashes are computed in Python (SQLite has no HMAC, PostgreSQL only with pgcrypto): one
SELECT of the new contacts (id, place, age band), the arms computed in memory (about a
microsecond each), one INSERT. Rows already stored are never touched (ON CONFLICT DO
NOTHING on the experiment and contact), which makes assignment sticky and lets several
workers assign at once; for blocked allocation the experiment's row lock (PostgreSQL)
serializes the slot counters.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import ARRAY, Integer, String, bindparam, column, exists, func, select, true

from app.contacts.age import age_band_sql
from app.contacts.models import Contact
from app.db_dialect import insert_ignoring_duplicates, is_postgres, lock_rows
from app.experiments.assignment import (
    assign_blocked,
    assign_by_number,
    assignment_key,
    stratum_of,
)
from app.experiments.models import (
    Experiment,
    ExperimentArm,
    ExperimentAssignment,
    ExperimentVariant,
)
from app.extensions import db
from app.timeutil import UTCDateTime

ASSIGNMENT_COLUMNS = ("contact_id", "arm_id", "stratum", "position")


@dataclass(frozen=True)
class Planned:
    """One contact's arm, as computed (not necessarily stored)."""

    contact_id: int
    arm_id: int
    stratum: str
    position: int | None


def reference_year(experiment: Experiment, now: datetime) -> int:
    """Age bands are those of the year the experiment started (a contact assigned later
    falls in the same band as a peer born the same year assigned at start)."""
    return (experiment.started_at or now).year


def candidates(experiment: Experiment, contacts, *, now: datetime) -> list[tuple[int, str]]:
    """(contact id, stratum) of the contacts `contacts` (a SELECT over Contact) selects that
    are not assigned yet."""
    band = age_band_sql(reference_year(experiment, now))
    stmt = contacts.with_only_columns(Contact.id, Contact.country, Contact.state_code, band).where(
        ~exists().where(
            ExperimentAssignment.experiment_id == experiment.id,
            ExperimentAssignment.contact_id == Contact.id,
        )
    )
    return [
        (contact_id, stratum_of(country, state, age_band))
        for contact_id, country, state, age_band in db.session.execute(stmt.distinct())
    ]


def _taken(experiment: Experiment) -> dict[str, int]:
    """Slots already used per stratum (the next newcomer's position)."""
    rows = db.session.execute(
        select(ExperimentAssignment.stratum, func.max(ExperimentAssignment.position))
        .where(ExperimentAssignment.experiment_id == experiment.id)
        .group_by(ExperimentAssignment.stratum)
    )
    return {stratum: (top if top is not None else -1) + 1 for stratum, top in rows}


def plan(
    experiment: Experiment, people: list[tuple[int, str]], *, taken: dict | None = None
) -> list[Planned]:
    """Each contact's arm by the experiment's rule (nothing stored)."""
    arms = list(experiment.arms)
    weights = [arm.weight for arm in arms]
    key = assignment_key(current_app.config["SECRET_KEY"])
    org_id = experiment.organization_id
    if not experiment.stratify:
        strata = dict(people)
        chosen = assign_by_number(key, org_id, experiment.id, strata, weights)
        return [Planned(c, arms[i].id, strata[c], None) for c, i in chosen.items()]
    by_stratum: dict[str, list[int]] = defaultdict(list)
    for contact_id, stratum in people:
        by_stratum[stratum].append(contact_id)
    chosen = assign_blocked(key, org_id, experiment.id, by_stratum, taken or {}, weights)
    strata = dict(people)
    return [Planned(c, arms[i].id, strata[c], p) for c, (i, p) in chosen.items()]


def _store(experiment: Experiment, planned: list[Planned], now: datetime) -> int:
    if not planned:
        return 0
    table = ExperimentAssignment.__table__
    if is_postgres():
        # One statement for any number of rows: arrays unnested on the server.
        kinds = (
            ("contact_id", Integer),
            ("arm_id", Integer),
            ("stratum", String),
            ("position", Integer),
        )
        arrays = [bindparam(f"p_{name}s", type_=ARRAY(kind)) for name, kind in kinds]
        rows = func.unnest(*arrays).table_valued(*(column(n, k) for n, k in kinds))
        rows = rows.render_derived("v")
        source = select(
            bindparam("p_org", experiment.organization_id, Integer),
            bindparam("p_experiment", experiment.id, Integer),
            *(rows.c[name] for name, _kind in kinds),
            bindparam("p_now", now, UTCDateTime()),
        )
        statement = (
            insert_ignoring_duplicates(table)  # the table: parameters are arrays, not rows
            .from_select(
                ["organization_id", "experiment_id", *ASSIGNMENT_COLUMNS, "assigned_at"], source
            )
            .on_conflict_do_nothing()
            .execution_options(preserve_rowcount=True)
        )
        params = {
            "p_contact_ids": [p.contact_id for p in planned],
            "p_arm_ids": [p.arm_id for p in planned],
            "p_stratums": [p.stratum for p in planned],
            "p_positions": [p.position for p in planned],
        }
        return db.session.execute(statement, params).rowcount or 0
    statement = insert_ignoring_duplicates(table).on_conflict_do_nothing()
    values = [
        {
            "organization_id": experiment.organization_id,
            "experiment_id": experiment.id,
            "contact_id": p.contact_id,
            "arm_id": p.arm_id,
            "stratum": p.stratum,
            "position": p.position,
            "assigned_at": now,
        }
        for p in planned
    ]
    return db.session.execute(statement, values).rowcount or 0


def assign(experiment: Experiment, contacts, *, now: datetime) -> int:
    """Assign the contacts `contacts` selects that have no arm yet; store them. No commit.
    Returns how many were assigned now."""
    if experiment.stratify:
        lock_rows(select(Experiment.id).where(Experiment.id == experiment.id))
    people = candidates(experiment, contacts, now=now)
    if not people:
        return 0
    taken = _taken(experiment) if experiment.stratify else None
    return _store(experiment, plan(experiment, people, taken=taken), now)


# --- what fan-out and the outbox guard ask -----------------------------------------------


def started_experiment(campaign_id: int) -> Experiment | None:
    """The campaign's experiment once started (running or finished), else None."""
    return db.session.scalar(
        select(Experiment).where(
            Experiment.campaign_id == campaign_id, Experiment.started_at.is_not(None)
        )
    )


def assign_on_entry(campaign_id: int, contacts, *, now: datetime) -> Experiment | None:
    """Fan-out's call: assign the recipients `contacts` selects that have no arm yet, while
    the campaign's experiment runs. Returns the started experiment (running or finished)
    or None. No commit (fan-out's unit of work)."""
    experiment = started_experiment(campaign_id)
    if experiment is not None and experiment.status == "running":
        assign(experiment, contacts, now=now)
    return experiment


def holdout_arm_id(experiment: Experiment) -> int | None:
    holdout = experiment.holdout
    return holdout.id if holdout is not None else None


def not_in_holdout_sql(experiment: Experiment, contact_id_column=Contact.id):
    """SQL: the contact is not in the experiment's holdout (true without a holdout)."""
    arm_id = holdout_arm_id(experiment)
    if arm_id is None:
        return true()
    return ~exists().where(
        ExperimentAssignment.experiment_id == experiment.id,
        ExperimentAssignment.contact_id == contact_id_column,
        ExperimentAssignment.arm_id == arm_id,
    )


def arm_of_contact_sql(experiment: Experiment, contact_id_column=Contact.id):
    """SQL: the contact's arm id (NULL when not assigned), correlated to `contact_id_column`."""
    return (
        select(ExperimentAssignment.arm_id)
        .where(
            ExperimentAssignment.experiment_id == experiment.id,
            ExperimentAssignment.contact_id == contact_id_column,
        )
        .scalar_subquery()
    )


def variant_texts(experiment: Experiment, message_id: int | None) -> dict[int, dict[str, str]]:
    """{arm id: {"es": text, "en": text}} of the arms that have their own text of the
    message (arms without one send the message's own text)."""
    if message_id is None:
        return {}
    rows = db.session.execute(
        select(ExperimentVariant.arm_id, ExperimentVariant.body_es, ExperimentVariant.body_en)
        .join(ExperimentArm, ExperimentArm.id == ExperimentVariant.arm_id)
        .where(
            ExperimentArm.experiment_id == experiment.id,
            ExperimentArm.is_holdout.is_(False),
            ExperimentVariant.message_id == message_id,
        )
    )
    return {arm_id: {"es": es, "en": en} for arm_id, es, en in rows}


def campaign_variants(campaign_id: int, message_id: int | None):
    """(experiment, {arm id: texts}) for a fan-out's body, or (None, {}) without a started
    experiment."""
    experiment = started_experiment(campaign_id)
    if experiment is None:
        return None, {}
    return experiment, variant_texts(experiment, message_id)
