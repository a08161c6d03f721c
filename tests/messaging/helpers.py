"""Constants shared by the gateway tests of this folder (fixtures are in conftest.py)."""

TEST_TIMEOUT = (0.5, 0.5)  # (connect, read): keeps the timeout tests fast
CALLBACK_URL = "https://alcance.example.org/webhooks/twilio/status"
