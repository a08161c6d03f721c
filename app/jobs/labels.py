"""Translated labels of job states. A job is "una tarea" (an import "una importación", an
export "una exportación"): Spanish labels agree in the feminine, hence their own context."""

from flask_babel import lazy_pgettext

JOB_STATUS_LABELS = {
    "queued": lazy_pgettext("job status", "Waiting"),
    "running": lazy_pgettext("job status", "Running"),
    "succeeded": lazy_pgettext("job status", "Finished"),
    "failed": lazy_pgettext("job status", "Failed"),
}


def job_status_label(status: str) -> str:
    return str(JOB_STATUS_LABELS.get(status, status))
