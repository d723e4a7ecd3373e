"""Domain events. Each is sent after its transaction commits, so receivers see stored rows.

Receivers live in each domain's handlers.py; senders never know who listens.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: sender: the CatalogueReport of a load that changed something.
catalogue_loaded = _signals.signal("catalogue-loaded")
#: sender: the Control; kwargs: action ("created", "updated", "retired").
control_changed = _signals.signal("control-changed")
#: sender: the ControlMapping; kwargs: action ("created", "updated", "deleted").
mapping_changed = _signals.signal("mapping-changed")
#: sender: the ServiceProfile; kwargs: action ("created", "updated", "deleted").
profile_changed = _signals.signal("profile-changed")
#: sender: the FeedEntry, after the poll that stored it; kwargs: action ("added", "revised").
feed_entry_added = _signals.signal("feed-entry-added")
#: sender: the FeedSource that has been failing for FEEDS_FLAG_AFTER_DAYS; admins should look.
feed_source_flagged = _signals.signal("feed-source-flagged")
#: sender: the ChangeReview just opened (by the poller, or promoted by an officer).
review_opened = _signals.signal("review-opened")
#: sender: the ChangeReview that reached "action-required"; kwargs: actor (an Actor).
review_action_required = _signals.signal("review-action-required")
