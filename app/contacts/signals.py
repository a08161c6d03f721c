"""What contacts tell the layers above them (they subscribe; contacts import none of them).
Receivers run inside the sender's unit of work, before it commits."""

from blinker import Namespace

_signals = Namespace()

# Sender: None; kwargs: contact_ids, now. Their personal data is being erased (a
# cancellation request or retention): whoever keeps text about them blanks it.
contacts_erased = _signals.signal("contacts-erased")
