"""WhatsApp as a second channel (issue 19). This first slice: the organization's WhatsApp
templates (bilingual, numbered variables mapped to our placeholders, quick-reply buttons
mapped to intents), submitted to Twilio's Content API for WhatsApp approval and followed
until WhatsApp decides. The send path picks among `services.approved_templates`."""

# The send path's template picker registers when the feature is imported (the app factory
# imports its routes).
from app.whatsapp import hooks as _hooks  # noqa: E402, F401
