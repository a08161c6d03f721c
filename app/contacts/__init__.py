"""Contacts: the young people we reach, their consent, and audiences (segments)."""
