"""Participation: one record of every participation event per contact (read by reports)."""
