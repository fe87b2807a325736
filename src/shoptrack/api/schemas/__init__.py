"""The documents the API answers with, as models for its OpenAPI description: FastAPI writes
their schemas into ``/openapi.json``, and the schemathesis test checks every answer against
them. The handlers build the documents themselves (``api.resources`` and the routes); these
models say what those documents hold, so they are open (extra members allowed) where a
resource may grow, and exact where clients rely on a type.

Attributes are all optional because sparse fieldsets (``fields[event]=…``) may leave any out.

One module per kind of resource, its ``__all__`` all imported from here: ``_common`` (errors, links,
relationships), ``_events`` (events, metrics, profiles), ``_integrations``, ``_diagnostics``
(findings and alerts), ``_flows`` (flows, suppressions, flow reports), ``_account`` (settings,
the Shopify app, health).
"""

from shoptrack.api.schemas import _account, _common, _diagnostics, _events, _flows, _integrations
from shoptrack.api.schemas._account import *  # noqa: F403  # exactly its __all__
from shoptrack.api.schemas._common import *  # noqa: F403  # exactly its __all__
from shoptrack.api.schemas._diagnostics import *  # noqa: F403  # exactly its __all__
from shoptrack.api.schemas._events import *  # noqa: F403  # exactly its __all__
from shoptrack.api.schemas._flows import *  # noqa: F403  # exactly its __all__
from shoptrack.api.schemas._integrations import *  # noqa: F403  # exactly its __all__

__all__ = (
    _account.__all__
    + _common.__all__
    + _diagnostics.__all__
    + _events.__all__
    + _flows.__all__
    + _integrations.__all__
)
