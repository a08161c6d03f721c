"""A worker process that claims one job and dies while running it (tests/scale, test (c)).

    DATABASE_URL=... APP_CONFIG=development python -m tests.scale.job_child KIND LEASE_SECONDS

Prints "CLAIMED <id>" and "RUNNING <id>", then blocks inside the job until it is killed.
"""

import sys
import time
from datetime import timedelta


def main() -> None:
    kind, lease = sys.argv[1], float(sys.argv[2])
    from app.jobs.services import claim_next, job_handler, run
    from app.timeutil import utcnow
    from wsgi import app

    @job_handler(kind)
    def never_finishes(job, progress):
        print(f"RUNNING {job.id}", flush=True)
        while True:
            time.sleep(60)

    with app.app_context():
        job = claim_next(f"doomed:{kind}", now=utcnow(), lease=timedelta(seconds=lease))
        if job is None:
            print("NOTHING", flush=True)
            return
        print(f"CLAIMED {job.id}", flush=True)
        run(job, clock=utcnow)


if __name__ == "__main__":
    main()
