"""Twilio webhooks: status callbacks and inbound SMS (signature-checked, no CSRF)."""
