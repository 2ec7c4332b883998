"""Domain events of the subscriber lifecycle, for other features to hook.

Receivers run inside the confirming transaction; anything that must reach the worker
goes through ``campaign.outbox.after_commit`` so it only happens if the commit does.
"""

from blinker import Namespace

_signals = Namespace()

#: Sent with the subscriber id as sender when a subscriber confirms their address.
subscriber_confirmed = _signals.signal("subscriber-confirmed")

#: Sent with the subscriber id as sender and the moment as ``at`` when a subscriber
#: unsubscribes (by their own link or a staff member at their request), in the
#: unsubscribing transaction.
subscriber_unsubscribed = _signals.signal("subscriber-unsubscribed")
