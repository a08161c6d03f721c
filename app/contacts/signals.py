"""What contacts tell the layers above them (they subscribe; contacts import none of them).
Receivers run inside the sender's unit of work, before it commits."""

from blinker import Namespace

_signals = Namespace()

# Sender: None; kwargs: contact_ids, now. Their personal data is being erased (a
# cancellation request or retention): whoever keeps text about them blanks it.
contacts_erased = _signals.signal("contacts-erased")

# Sender: None; kwargs: contact (the Contact), now. The contact has just opted out (this call
# changed its state: a STOP, a carrier's opt-out, a coordinator): whoever holds a conversation
# with it ends it (a survey stops).
contact_opted_out = _signals.signal("contact-opted-out")
