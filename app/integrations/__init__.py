"""Outbound webhooks (issue 20): admins register HTTPS endpoints per organization and
choose events; every event (app/organizations/events.py) adds one delivery row per
subscribed endpoint in the event's own transaction (a webhook outbox), and the worker
POSTs them, signed, retrying with backoff for up to 24 hours.

It listens to the kernel and the features and sits above them (below the reports and
the API); nothing below imports it."""
