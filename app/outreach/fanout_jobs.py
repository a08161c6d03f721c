"""The worker side of a large send: enrol the audience and write its outbox rows."""

from app.extensions import db
from app.jobs.services import job_handler
from app.outreach.models import OutreachSend
from app.outreach.services import fan_out_now
from app.timeutil import utcnow


@job_handler("send_fanout", result_page=("outreach.send_detail", "send_id"))
def run_send_fanout(job, progress) -> dict:
    send = db.session.get(OutreachSend, job.payload["send_id"])
    if send is None or send.organization_id != job.organization_id:
        raise LookupError("send not found")
    created = 0
    if send.fanned_out_at is None:  # not already done by an attempt that committed
        if send.status == "canceled" or send.campaign.status not in ("active", "paused"):
            # Canceled, completed or archived while queued: nothing to send.
            now = utcnow()
            send.status, send.fanned_out_at = "canceled", now
            send.canceled_at = send.canceled_at or now
            db.session.commit()
        else:
            # Idempotent: rows and enrolments that exist are skipped (ON CONFLICT DO NOTHING).
            created = fan_out_now(send, now=utcnow())
    progress(done=job.total or created, force=True)
    return {"send_id": send.id, "created": created}
