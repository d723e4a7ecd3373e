"""Domain events. Each is sent after its transaction commits, so receivers see stored rows.

Receivers live in each domain's handlers.py; senders never know who listens.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from blinker import Namespace

_signals = Namespace()

#: sent before and after a run of signals from one unit of work (a feed fetch with dozens of
#: entries and reviews), so receivers may gather them and act once, e.g. one index write.
batch_started = _signals.signal("batch-started")
batch_finished = _signals.signal("batch-finished")


@contextmanager
def batch(sender: object) -> Iterator[None]:
    """Send the signals of one unit of work inside this block; receivers that gather them act
    when it ends, even if a receiver failed on the way."""
    batch_started.send(sender)
    try:
        yield
    finally:
        batch_finished.send(sender)


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
#: sender: the ChangeReview an officer changed (state, assignee, due date, decision, note);
#: kwargs: actor (an Actor).
review_changed = _signals.signal("review-changed")

# -- sent inside the writing transaction -------------------------------------------------------
# Receivers of these add rows to db.session and never commit: what they write stands or falls
# with the change itself. The alert outbox (issue #6) writes its delivery rows this way, so no
# event can be committed without its alerts, nor an alert without its event.

#: sender: the ChangeReview just opened, flushed (it has an id); kwargs: actor.
review_opening = _signals.signal("review-opening")
#: sender: the ChangeReview moving to "action-required"; kwargs: actor.
review_requiring_action = _signals.signal("review-requiring-action")
#: sender: the FeedSource being flagged as failing for FEEDS_FLAG_AFTER_DAYS.
feed_source_flagging = _signals.signal("feed-source-flagging")
