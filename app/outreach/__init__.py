"""Outreach: scheduling, the outbox, sending and hearing back."""
