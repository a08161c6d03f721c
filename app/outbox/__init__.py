"""The outbox: the one door for every outgoing message, and where replies come in."""
