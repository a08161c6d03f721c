"""What a campaign tells the features built on it (they subscribe; campaigns import none
of them). Receivers run inside the campaign's unit of work, before it commits."""

from blinker import Namespace

_signals = Namespace()

# Sender: the campaign; kwargs: status ("completed" or "archived"), now. Its pending
# messages are already canceled; features stop what they own (e.g. sends).
campaign_closed = _signals.signal("campaign-closed")

# Sender: the CampaignMessage about to be deleted (nothing of it went out). A receiver
# raises DomainError to refuse (e.g. a send of it is still pending), else removes what it
# owns that refers to the message.
message_deleting = _signals.signal("campaign-message-deleting")
