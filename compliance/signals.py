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
