"""gunicorn settings: `gunicorn -c python:app.gunicorn_conf wsgi:app`.

Every value can be overridden by the GUNICORN_* variables below.
"""

import multiprocessing
import os

from app.logging_setup import gunicorn_logconfig
from config import Config

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# (2 × cores) + 1 sync workers: the classic sizing for I/O-bound Flask apps.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
max_requests = 2000  # recycle workers now and then (bounded memory)
max_requests_jitter = 200
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
# No query strings (search terms, phone fragments) and no client address: no personal data.
access_log_format = '%(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
# gunicorn's own error and access lines in the application's format (JSON with LOG_JSON=1),
# with exceptions reduced as the application's are (no personal data).
logconfig_dict = gunicorn_logconfig(json_lines=Config.LOG_JSON)
