"""The outbox: the one door for every outgoing message (any channel, any purpose), and the
place replies come in. Features use `app.outbox.api` to enqueue and manage messages,
`guards` to say when theirs must not go, `inbound.handler` to answer replies, and the text
and timing rules (`text`, `placeholders`, `encoding`, `timing`); the engine (dispatch,
preparing, sending, status, spool, worker) is driven by the worker command."""
