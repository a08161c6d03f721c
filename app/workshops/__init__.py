"""Workshops: in-person prevention sessions, SMS invitations and RSVPs, reminders, attendance."""
