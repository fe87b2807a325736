"""What every connector declares: its platform, its default status rules, how its webhooks are
verified and read, and how its orders map to the platform-neutral ``Order``.

A connector holds no state: one instance serves every integration of its platform, and what is
particular to an integration (its secrets, its settings) is passed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any, ClassVar, Generic
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from typing_extensions import TypeVar

from shoptrack.connectors.errors import StoreConfigError, StoreDataError
from shoptrack.connectors.http import StoreClient, read_json
from shoptrack.connectors.paging import Paginator
from shoptrack.connectors.tokens import TokenKeeper
from shoptrack.domain.events import EventDraft
from shoptrack.domain.order import Order
from shoptrack.domain.status import StatusRules
from shoptrack.errors import InputError
from shoptrack.outbound import OutboundGuard

__all__ = [
    "ClientFactory",
    "Connector",
    "Credentials",
    "OrderPage",
    "ProbeOrder",
    "RestConnector",
    "WebhookCheck",
    "WebhookHealth",
    "WebhookRequest",
    "WebhookVerdict",
    "Window",
    "clean_credentials",
    "created_id",
    "hmac_refusal",
    "hmac_sha256_base64",
    "replace_origin",
    "signature_matches",
    "store_address",
    "store_clients",
]


class WebhookVerdict(StrEnum):
    """What intake does with a webhook request."""

    ACCEPTED = "accepted"  # signed by a current secret: stored and processed
    PING = "ping"  # the platform checking the URL: answered 200, nothing stored
    REJECTED = "rejected"  # bad or missing signature: 401, stored as rejected for the doctor
    CLOCK_SKEW = "clock_skew"  # signed, but its timestamp is outside the tolerance: 401


@dataclass(frozen=True, slots=True)
class WebhookCheck:
    """The verdict on one webhook request, with what intake stores about it."""

    verdict: WebhookVerdict
    topic: str = ""
    delivery_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """One webhook request as intake received it, for the platform to verify.

    ``secrets`` are every webhook secret valid now; ``headers`` have lower-case names; ``now``
    is the receiver's clock, which signatures that carry a timestamp are compared with.
    """

    secrets: Sequence[str]
    headers: Mapping[str, str]
    body: bytes
    now: datetime


def hmac_sha256_base64(secret: str, body: bytes) -> str:
    """Base64 of HMAC-SHA256 over the body: WooCommerce's and Shopify's webhook signature."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signature_matches(expected: Sequence[str], given: str) -> bool:
    """Constant-time comparison against every currently valid signature (secret rotation)."""
    given_bytes = given.strip().encode()
    return any(hmac.compare_digest(candidate.encode(), given_bytes) for candidate in expected)


def hmac_refusal(secrets: Sequence[str], body: bytes, signature: str, header: str) -> str | None:
    """Why a delivery whose ``header`` says ``signature`` (``hmac_sha256_base64`` of its body)
    is refused, or None when one of ``secrets`` signed it."""
    if not signature:
        return f"missing {header} header"
    if not secrets:
        return "no webhook secret is configured for this integration"
    if not signature_matches([hmac_sha256_base64(s, body) for s in secrets], signature):
        return "signature does not match the webhook secret"
    return None


class Credentials(BaseModel):
    """Fields every platform's credentials share; each connector declares its own subclass."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Replaces the scheme, host and port of the platform's API origin (a proxy, a simulator).
    api_base_url: str | None = None

    @field_validator("api_base_url")
    @classmethod
    def _origin(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        return value


def store_address(value: str, store: str = "store") -> SplitResult:
    """The parts of a store's address as a merchant entered it, for a credentials validator;
    ``ValueError`` unless it is an http:// or https:// URL with a host."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be the {store}'s address, e.g. https://shop.example.com")
    return parts


# A connector's credentials type; a connector of any platform (the registry's) is ``Connector``
# without it, its credentials then known at run time only.
C = TypeVar("C", bound=Credentials, default=Any)


def clean_credentials(
    model: type[Credentials], raw: Mapping[str, Any]
) -> tuple[Credentials, list[str]]:
    """Checks credentials as entered: white space around values is trimmed (and the trimmed
    fields listed, since the same space may sit on the store's side); a missing or wrong field
    is an ``InputError`` naming it."""
    trimmed: list[str] = []
    values: dict[str, Any] = {}
    for name, given in raw.items():
        value = given
        if isinstance(value, str) and value != value.strip():
            trimmed.append(name)
            value = value.strip()
        values[name] = value if value != "" else None
    try:
        return model.model_validate(values), sorted(trimmed)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"])
        message = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
        if not field:
            # A rule across fields (one way in or another) starts its message with the field
            # it asks for: "client_secret: required with client_id".
            field, _, message = str(first["ctx"]["error"]).partition(": ")
        raise InputError(
            f"credentials.{field}: {message}",
            pointer=f"/data/attributes/credentials/{field.replace('.', '/')}",
        ) from error


ClientFactory = Callable[["Connector", Credentials], StoreClient]


def store_clients(guard: OutboundGuard, tokens: TokenKeeper | None = None) -> ClientFactory:
    """The client factory of a process: each connector's own client, reaching what ``guard``
    allows, keeping the tokens it obtains in ``tokens`` (tests hand in factories of their
    own)."""

    def client(connector: Connector, credentials: Credentials) -> StoreClient:
        return connector.client(credentials, guard=guard, tokens=tokens)

    return client


def replace_origin(url: str, api_base_url: str | None) -> str:
    """``url`` with the scheme, host and port of ``api_base_url`` when one is given."""
    if not api_base_url:
        return url.rstrip("/")
    target, base = urlsplit(url), urlsplit(api_base_url)
    return urlunsplit((base.scheme, base.netloc, target.path, "", "")).rstrip("/")


@dataclass(frozen=True, slots=True)
class Window:
    """The stretch of the platform's updated times a sync asks for: from ``since`` to the
    run's start ``until`` (the signpost: a cursor never moves past it). ``backfill``: a first
    import or ``sync --backfill``, which a platform may read in bulk (Shopify)."""

    since: datetime
    until: datetime
    backfill: bool = False

    @property
    def until_whole_second(self) -> datetime:
        """``until`` rounded up to a whole second, for a store that compares whole seconds: an
        order modified in the window's last second is then inside it, whether the store's
        bound is exclusive or inclusive (one sighting twice is harmless: the inbox dedupes)."""
        end = self.until.replace(microsecond=0)
        return end + timedelta(seconds=1) if end != self.until else end


@dataclass(frozen=True, slots=True)
class OrderPage:
    """One page of raw orders, with the store's count of all matching orders when it says.

    ``waiting``: no orders yet, the store is still preparing them (a Shopify bulk operation);
    the sync keeps its lease and reports its progress meanwhile.
    """

    records: list[dict[str, Any]]
    total: int | None = None
    waiting: bool = False


@dataclass(frozen=True, slots=True)
class WebhookHealth:
    """What a store says about the webhooks that should deliver to shoptrack, for the doctor.

    ``missing_topics``: topics no active webhook of the store delivers to shoptrack's URL.
    ``disabled``: the store's own entries (``id``, ``topic``, ``status``) for shoptrack's URL
    that are not active, of topics with no active webhook beside them (WooCommerce disables a
    webhook after repeated failed deliveries).
    """

    expected_topics: tuple[str, ...]
    missing_topics: tuple[str, ...] = ()
    disabled: tuple[Mapping[str, Any], ...] = ()


def created_id(response: httpx.Response, *path: str | int) -> str:
    """The id a store's answer to a creation gives at ``path`` (keys and list indexes);
    ``StoreDataError`` when the answer does not carry one."""
    try:
        value: Any = response.json()
        for step in path:
            value = value[step]
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise StoreDataError(
            "the store's answer to the new order carries no id", store_answer=response.text
        ) from error
    if isinstance(value, bool) or not isinstance(value, int | str) or str(value) in ("", "0"):
        raise StoreDataError(
            "the store's answer to the new order carries no id", store_answer=response.text
        )
    return str(value)


@dataclass(frozen=True, slots=True)
class ProbeOrder:
    """The test order the order probe (``shoptrack test-order``) places through a store's API:
    one line of ``price`` named ``product_name``, paid, for ``email``, with ``note`` saying
    what it is."""

    email: str
    note: str
    product_name: str = "shoptrack test order"
    price: Decimal = Decimal("1.00")
    first_name: str = "shoptrack"
    last_name: str = "Test Order"


class Connector(ABC, Generic[C]):
    """The code for one platform, whose integrations' credentials are a ``C``."""

    platform: ClassVar[str]
    # How the web UI names the platform.
    display_name: ClassVar[str]
    # The model of ``C``, which checks credentials as entered and reads them back when stored.
    credentials_model: ClassVar[type[Credentials]]
    # Which raw statuses make an order placed, fulfilled, cancelled, refunded unless an
    # integration's settings say otherwise (DESIGN.md's table).
    default_rules: ClassVar[StatusRules]
    # The credential fields holding the secrets that sign webhooks now, first tried first, and
    # the one keeping those still valid during a rotation; none where the platform sends no
    # webhooks shoptrack can verify.
    webhook_secret_fields: ClassVar[tuple[str, ...]] = ()
    previous_webhook_secrets_field: ClassVar[str | None] = None
    # Whether the platform delivers order webhooks shoptrack verifies (then polling is the
    # safety net behind them, and the doctor looks after the webhooks): set from
    # ``webhook_secret_fields``.
    sends_webhooks: ClassVar[bool] = False
    # How often an integration is polled unless its settings say (``sync_interval_minutes``):
    # by default every 15 minutes behind webhooks, every 5 where polling is the only source.
    sync_interval_minutes: ClassVar[int] = 5
    # The field of a raw order (as ``to_order`` reads it) holding the platform's order id.
    order_id_field: ClassVar[str] = "id"
    page_size: ClassVar[int] = 100
    # Whether shoptrack picks the webhook secret and hands it to the store when it subscribes
    # (WooCommerce); elsewhere the platform signs with a secret of its own (an app's secret).
    chooses_webhook_secret: ClassVar[bool] = False
    # The platform's own order statuses, raw value → the name its admin shows, in the admin's
    # order: the status-rule editor lists them, and ``known_statuses`` derives from them.
    status_labels: ClassVar[Mapping[str, str]] = MappingProxyType({})
    # The platform's own order statuses: ones the status rules leave out on purpose (pending,
    # on-hold) are known, and only the others are reported by the doctor as custom statuses.
    known_statuses: ClassVar[frozenset[str]] = frozenset()
    # The credential field holding the store's address, named when that address is refused;
    # platforms whose API lives at a fixed origin name ``api_base_url``, the only way to move it.
    origin_field: ClassVar[str] = "api_base_url"
    # The webhook topic by which the store says the app was uninstalled (its token is gone):
    # intake disables the integration.
    uninstall_topic: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.known_statuses = frozenset(cls.status_labels)
        cls.sends_webhooks = bool(cls.webhook_secret_fields)
        if "sync_interval_minutes" not in vars(cls):
            cls.sync_interval_minutes = 15 if cls.sends_webhooks else 5

    # -- polling: a few declarations, and the loop every platform shares -----------------

    @abstractmethod
    def origin(self, credentials: C) -> str:
        """Where the platform's API lives for these credentials (before its own paths)."""

    def storefront_url(self, credentials: C) -> str | None:
        """The store's own address, where flow emails link to: the credential field
        ``origin_field`` holds it, unless that is ``api_base_url`` (then None: the platform's
        API lives elsewhere, and the credentials do not say)."""
        if self.origin_field == "api_base_url":
            return None
        return str(getattr(credentials, self.origin_field))

    def auth(self, credentials: C) -> httpx.Auth | None:
        """How requests are authenticated (None when headers carry it, see ``headers``)."""
        return None

    def client_auth(self, credentials: C, tokens: TokenKeeper | None) -> httpx.Auth | None:
        """The auth of a client whose obtained tokens ``tokens`` keeps (Shopify's client
        credentials grant); ``auth`` by default."""
        return self.auth(credentials)

    def headers(self, credentials: C) -> dict[str, str]:
        return {}

    def address_field(self, credentials: C) -> str:
        """The credential field that says where requests go: ``api_base_url`` when it is set,
        else the platform's own address field (``origin_field``)."""
        return "api_base_url" if credentials.api_base_url else self.origin_field

    def client(
        self,
        credentials: C,
        *,
        guard: OutboundGuard,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        tokens: TokenKeeper | None = None,
    ) -> StoreClient:
        """A client of the store these credentials open. ``tokens`` keeps the access tokens
        a connector obtains for itself (Shopify's client credentials grant); elsewhere unused."""
        return StoreClient(
            self.origin(credentials),
            guard=guard,
            auth=self.client_auth(credentials, tokens),
            headers=self.headers(credentials),
            transport=transport,
            sleep=sleep,
        )

    @abstractmethod
    def check_credentials(self, client: StoreClient) -> None:
        """One cheap request that fails (with a classified error) unless the keys work."""

    @abstractmethod
    def orders_request(self, window: Window, token: Any) -> tuple[str, dict[str, Any]]:
        """The path and parameters of the orders page ``token`` within ``window``."""

    @abstractmethod
    def updated_at(self, raw: Mapping[str, Any]) -> datetime:
        """The platform's own updated time of a raw order (UTC), which cursors follow."""

    def readable_window(
        self, client: StoreClient, window: Window
    ) -> tuple[Window, StoreConfigError | None]:
        """The part of ``window`` these keys may read, and the config error that explains a cut
        (Shopify serves orders older than 60 days only with ``read_all_orders``). The sync
        reads the part, keeps its cursor, then reports the error. The whole window by default."""
        return window, None

    @abstractmethod
    def order_pages(self, client: StoreClient, window: Window) -> Iterator[OrderPage]:
        """Every page of orders updated within ``window``."""

    # -- webhooks and mapping ------------------------------------------------------------

    def register_webhooks(  # optional hook: platforms without a webhook API keep it
        self, client: StoreClient, delivery_url: str, credentials: C
    ) -> None:
        """Asks the store to send its order webhooks to ``delivery_url`` (a no-op where the
        platform has no API for it or none at all)."""

    def webhook_health(self, client: StoreClient, delivery_url: str) -> WebhookHealth | None:
        """What the store says about its webhooks to ``delivery_url`` (the doctor's
        webhooks_missing and webhooks_disabled_on_store); None where the platform cannot say."""
        return None

    def webhook_secrets(self, credentials: Mapping[str, Any]) -> list[str]:
        """Every webhook secret valid now, in stored credentials: the current ones
        (``webhook_secret_fields``), then those kept during a rotation."""
        current = [credentials.get(name) for name in self.webhook_secret_fields]
        field = self.previous_webhook_secrets_field
        previous = (credentials.get(field) if field else None) or []
        return list(dict.fromkeys(s for s in [*current, *previous] if isinstance(s, str) and s))

    def raw_order_id(self, raw: Mapping[str, Any]) -> str:
        """The platform's id of a raw order, read without mapping it ("" when it has none)."""
        return str(raw.get(self.order_id_field, ""))

    def check_webhook(
        self,
        secrets: Sequence[str],
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: datetime | None = None,
    ) -> WebhookCheck:
        """Verifies a webhook request (``verify_webhook``). ``headers`` have lower-case names;
        ``secrets`` are every webhook secret valid now; ``now`` is the receiver's clock, which
        signatures that carry a timestamp are compared with (the system clock when omitted)."""
        return self.verify_webhook(WebhookRequest(secrets, headers, body, now or datetime.now(UTC)))

    def verify_webhook(self, request: WebhookRequest) -> WebhookCheck:
        """The platform's verdict on a webhook request.

        By default every request is refused: a platform that sends no webhooks shoptrack can
        verify is polled only (Magento 2, PrestaShop, Shift4Shop)."""
        return WebhookCheck(
            WebhookVerdict.REJECTED,
            reason=f"{self.platform} sends no webhooks shoptrack can verify; its orders are polled",
        )

    def orders_from_webhook(self, topic: str, payload: Any) -> list[Order]:
        """The orders a verified webhook body (already JSON-decoded) carries, mapped; none by
        default."""
        return []

    def order_ids_from_webhook(self, topic: str, payload: Any) -> list[str]:
        """The ids of orders a verified webhook names without carrying them (BigCommerce's
        id-only payloads): processing queues one fetch per order, however many webhooks name
        it. None by default: the other platforms' webhooks carry the order."""
        return []

    def fetch_order(self, client: StoreClient, order_id: str) -> dict[str, Any] | None:
        """One raw order read through the API, as ``to_order`` maps it; None when the store no
        longer has it. Needed where ``order_ids_from_webhook`` names orders."""
        raise NotImplementedError(f"{self.platform} webhooks carry their orders")

    def drafts_from_webhook(self, topic: str, payload: Any) -> list[EventDraft]:
        """Events a verified webhook carries besides orders (Shopify's checkouts become Started
        Checkout); none by default. ``ValueError`` names a field that cannot be read."""
        return []

    # -- test orders (``shoptrack test-order``) ------------------------------------------

    def place_test_order(self, client: StoreClient, order: ProbeOrder) -> str | None:
        """Places ``order`` through the store's order-creation API, paid (in a status the
        default rules count as placed) and marked as a test where the platform can say so;
        returns the platform's order id. None where the platform has no such API: the
        merchant places it by hand."""
        return None

    def cancel_test_order(self, client: StoreClient, order_id: str) -> str:
        """Cancels a test order ``place_test_order`` placed; returns what was done, in a few
        words for the report."""
        raise NotImplementedError(f"{self.platform} places no test orders through its API")

    @abstractmethod
    def to_order(self, raw: Mapping[str, Any]) -> Order:
        """Maps one order as the platform's API returns it. ``ValueError`` names a field that
        cannot be read."""


class RestConnector(Connector[C]):
    """A connector of a REST API, where each orders page is one ``GET`` (``orders_request``)
    answering a list of orders (``records``), and the response tells where the next page is
    (``paginator``)."""

    @abstractmethod
    def paginator(self) -> Paginator[Any]:
        """A fresh paginator for one pass over the orders."""

    def records(self, response: httpx.Response) -> list[dict[str, Any]]:
        """The raw orders in a page (a bare JSON array by default)."""
        if response.status_code == 204:
            return []
        body = read_json(response, "the orders page")
        if not isinstance(body, list):
            raise StoreDataError("the orders page is not a list", store_answer=response.text)
        return body

    def total(self, response: httpx.Response) -> int | None:
        """The store's count of all orders matching the request, when it says."""
        return None

    def order_pages(self, client: StoreClient, window: Window) -> Iterator[OrderPage]:
        """Every page of orders updated within ``window``, following the paginator."""
        paginator = self.paginator()
        while not paginator.finished:
            path, params = self.orders_request(window, paginator.current)
            response = client.get(path, params)
            records = self.records(response)
            yield OrderPage(records, self.total(response))
            paginator.advance(response, len(records))
