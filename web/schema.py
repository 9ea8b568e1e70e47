"""Every table of the service, registered on ``core.db.Base.metadata``.

Import this module wherever the whole schema is needed (migrations, tests,
benchmarks); each package keeps its own models."""

import booking.call_tasks
import booking.callbacks
import booking.models
import booking.previsit
import booking.refill_models
import idporten.local_state
import notifications.bulk_models
import notifications.models
import web.auth.models
import web.oversight.models
from core.db import Base

metadata = Base.metadata

__all__ = ["booking", "idporten", "metadata", "notifications", "web"]
