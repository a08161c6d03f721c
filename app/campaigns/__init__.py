"""Campaigns: prevention campaigns and their bilingual SMS messages."""
