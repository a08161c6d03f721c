"""`SmsGateway` for development and demos without Twilio credentials.

It sends nothing and stores nothing: the outbox row the dispatcher writes (with the SID
returned here) is what the in-app phone simulator page shows, and simulated replies enter
through the same inbound path as Twilio's webhook.
"""

from __future__ import annotations

from datetime import datetime

from app.messaging.fake import new_message_sid
from app.messaging.gateway import SendResult, SentMessage


class SimulatorGateway:
    name = "simulator"

    def send(
        self,
        to: str,
        body: str,
        *,
        status_callback: str | None = None,
        sender: str | None = None,
        channel: str = "sms",
        content_sid: str | None = None,
        content_variables: str | None = None,
    ) -> SendResult:
        return SendResult(sid=new_message_sid(), status="sent", num_segments=None)

    def find_sent(self, to: str, *, since: datetime) -> list[SentMessage]:
        return []
