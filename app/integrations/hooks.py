"""Wiring, imported by the composition root: every organization event records its
deliveries, and the settings page shows endpoints disabled for failing."""

from app.integrations.services import disabled_notices, record_deliveries, subscribed
from app.organizations.events import register_listener
from app.organizations.notices import register_settings_notice

register_listener("webhooks", record_deliveries, wants=subscribed)
register_settings_notice("webhooks", disabled_notices)
