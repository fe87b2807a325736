"""The flow library: ready-made flows a merchant creates by name (``post-purchase``,
``abandoned-checkout``…), each with its trigger metric, filters, steps and editable emails.

Templates see ``profile`` (also as ``person``), ``event`` (the trigger event's properties, with
``event["$value"]``), ``event_value``, ``currency``, ``organization``, ``store_url`` (the address
of the store the trigger event came from, else of the account's first store that has one) and
``unsubscribe_url``; ``money`` formats an amount (``{{ item.RowTotal|money(currency) }}``). Every
library email links to the store: where a reader's click (and the order after it) is counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shoptrack.domain.events import Metric
from shoptrack.flows.model import (
    Action,
    ConditionalSplit,
    FlowDefinition,
    ProfileMetricCondition,
    Reentry,
    SendEmail,
    TimeDelay,
)

__all__ = ["LIBRARY", "FlowTemplate", "template_named"]

_GREETING = '{{ profile.first_name or "there" }}'

_ITEMS_HTML = """\
<table role="presentation" cellpadding="6" style="border-collapse:collapse">
{% for item in event.Items %}  <tr>
    <td>{{ item.Quantity }} x {{ item.ProductName }}</td>
    <td style="text-align:right">{{ item.RowTotal|money(currency) }}</td>
  </tr>
{% endfor %}</table>
{% if event.DiscountCode %}<p>Discount code {{ event.DiscountCode }}: \
-{{ event.DiscountValue|money(currency) }}</p>
{% endif %}<p><strong>Total: {{ event_value|money(currency) }}</strong></p>
"""

_ITEMS_TEXT = """\
{% for item in event.Items %}- {{ item.Quantity }} x {{ item.ProductName }}: \
{{ item.RowTotal|money(currency) }}
{% endfor %}{% if event.DiscountCode %}Discount code {{ event.DiscountCode }}: \
-{{ event.DiscountValue|money(currency) }}
{% endif %}Total: {{ event_value|money(currency) }}
"""


_STORE_LINK_HTML = """\
{% if store_url %}<p><a href="{{ store_url }}">Visit {{ organization }}</a></p>
{% endif %}"""
_STORE_LINK_TEXT = """\
{% if store_url %}
Visit {{ organization }}: {{ store_url }}
{% endif %}"""


def _email(
    step_id: str,
    name: str,
    subject: str,
    lead: str,
    *,
    items: bool = True,
    smart_sending: bool = True,
    next_step: str | None = None,
) -> SendEmail:
    """An email whose body is a greeting, ``lead``, (with ``items``) the ordered items, and a
    link to the store."""
    html = f"<p>Hi {_GREETING},</p>\n<p>{lead}</p>\n" + (_ITEMS_HTML if items else "")
    html += _STORE_LINK_HTML
    text = f"Hi {_GREETING},\n\n{lead}\n\n" + (_ITEMS_TEXT if items else "") + _STORE_LINK_TEXT
    return SendEmail(
        type="send-email",
        id=step_id,
        name=name,
        subject=subject,
        html=html,
        text=text,
        smart_sending=smart_sending,
        next=next_step,
    )


def _zero_since_start(metric: Metric) -> ProfileMetricCondition:
    return ProfileMetricCondition(
        type="profile-metric",
        metric=metric.value,
        operator="equals",
        value=0,
        timeframe="flow-start",
    )


def _delay(step_id: str, unit: str, value: int, next_step: str) -> TimeDelay:
    return TimeDelay.model_validate(
        {"type": "time-delay", "id": step_id, "unit": unit, "value": value, "next": next_step}
    )


def _post_purchase() -> FlowDefinition:
    first_order = ConditionalSplit(
        type="conditional-split",
        id="first-order",
        conditions=[
            ProfileMetricCondition(
                type="profile-metric",
                metric=Metric.PLACED_ORDER.value,
                operator="equals",
                value=1,
                timeframe="all-time",
            )
        ],
        yes="thank-you-first",
        no="thank-you-returning",
    )
    actions: list[Action] = [
        first_order,
        # Order confirmations go out whatever else the profile was sent: no smart sending.
        _email(
            "thank-you-first",
            "Thank you (first order)",
            "Thank you for your first order, {{ event.OrderNumber }}!",
            "Welcome, and thank you for your first order {{ event.OrderNumber }} "
            "with {{ organization }}. Here is what you ordered:",
            smart_sending=False,
        ),
        _email(
            "thank-you-returning",
            "Thank you (returning customer)",
            "Thank you for your order {{ event.OrderNumber }}",
            "Thank you for ordering again from {{ organization }}! Your order "
            "{{ event.OrderNumber }}:",
            smart_sending=False,
        ),
    ]
    return FlowDefinition(actions=actions, entry="first-order")


def _wait_then_email(
    unit: str,
    value: int,
    email: SendEmail,
    *,
    unless: tuple[Metric, ...],
    reentry: Reentry | None = None,
) -> FlowDefinition:
    """A flow that waits ``value`` ``unit``, then sends ``email`` to the profile, unless it did
    one of the ``unless`` metrics since it entered."""
    return FlowDefinition(
        profile_filters=[_zero_since_start(metric) for metric in unless],
        actions=[_delay("wait", unit, value, email.id), email],
        entry="wait",
        reentry=reentry or Reentry(),
    )


def _abandoned_checkout() -> FlowDefinition:
    return _wait_then_email(
        "hours",
        4,
        _email(
            "reminder",
            "Abandoned checkout reminder",
            "You left something in your cart",
            "You were about to check out at {{ organization }}. Your items are still waiting"
            '{% if event.CheckoutURL %}: <a href="{{ event.CheckoutURL }}">finish your order'
            "</a>{% endif %}.",
        ),
        unless=(Metric.PLACED_ORDER,),
        reentry=Reentry(unit="day", duration=1),
    )


def _browse_abandonment() -> FlowDefinition:
    return _wait_then_email(
        "hours",
        2,
        _email(
            "reminder",
            "Browse abandonment",
            "Still thinking about {{ event.ProductName or event.Name or 'it' }}?",
            "You were looking at {{ event.ProductName or event.Name or 'something' }} at "
            "{{ organization }}. It is still there"
            '{% if event.URL %}: <a href="{{ event.URL }}">have another look</a>{% endif %}.',
            items=False,
        ),
        unless=(Metric.STARTED_CHECKOUT, Metric.PLACED_ORDER),
        reentry=Reentry(unit="week", duration=1),
    )


WIN_BACK_DAYS = 60


def _win_back() -> FlowDefinition:
    # Every order starts a run; a later order makes the earlier runs' filter fail, so only the
    # profile's last order leads to an email, N days after it.
    return _wait_then_email(
        "days",
        WIN_BACK_DAYS,
        _email(
            "we-miss-you",
            "Win-back",
            "We miss you at {{ organization }}",
            "It has been a while since your last order. Come and see what is new at "
            "{{ organization }}.",
            items=False,
        ),
        unless=(Metric.PLACED_ORDER,),
    )


def _notification(
    step_id: str, name: str, subject: str, lead: str, *, items: bool = True
) -> Callable[[], FlowDefinition]:
    def build() -> FlowDefinition:
        email = _email(step_id, name, subject, lead, items=items, smart_sending=False)
        return FlowDefinition(actions=[email], entry=step_id)

    return build


@dataclass(frozen=True, slots=True)
class FlowTemplate:
    """A ready-made flow: the metric it is triggered by, and how to build its definition."""

    key: str
    name: str
    metric: str
    description: str
    build: Callable[[], FlowDefinition]


LIBRARY: dict[str, FlowTemplate] = {
    template.key: template
    for template in (
        FlowTemplate(
            "post-purchase",
            "Post-purchase thank you",
            Metric.PLACED_ORDER,
            "Thanks every order at once, first-time and returning customers apart.",
            _post_purchase,
        ),
        FlowTemplate(
            "abandoned-checkout",
            "Abandoned checkout",
            Metric.STARTED_CHECKOUT,
            "Reminds a customer of a checkout 4 hours later, unless they ordered since.",
            _abandoned_checkout,
        ),
        FlowTemplate(
            "browse-abandonment",
            "Browse abandonment",
            Metric.VIEWED_PRODUCT,
            "Reminds of a viewed product 2 hours later, unless they checked out or ordered.",
            _browse_abandonment,
        ),
        FlowTemplate(
            "win-back",
            "Win-back",
            Metric.PLACED_ORDER,
            f"Writes to customers who placed no order for {WIN_BACK_DAYS} days.",
            _win_back,
        ),
        FlowTemplate(
            "order-fulfilled",
            "Shipping confirmation",
            Metric.FULFILLED_ORDER,
            "Tells the customer their order is on its way.",
            _notification(
                "shipped",
                "Order shipped",
                "Your order {{ event.OrderNumber }} is on its way",
                "Good news: your order {{ event.OrderNumber }} has shipped.",
            ),
        ),
        FlowTemplate(
            "order-cancelled",
            "Cancellation notice",
            Metric.CANCELLED_ORDER,
            "Confirms a cancelled order.",
            _notification(
                "cancelled",
                "Order cancelled",
                "Your order {{ event.OrderNumber }} was cancelled",
                "Your order {{ event.OrderNumber }} has been cancelled.",
            ),
        ),
        FlowTemplate(
            "order-refunded",
            "Refund confirmation",
            Metric.REFUNDED_ORDER,
            "Confirms a refund.",
            _notification(
                "refunded",
                "Order refunded",
                "Your refund for order {{ event.OrderNumber }}",
                "We have refunded {{ event_value|money(currency) }} for your order "
                "{{ event.OrderNumber }}.",
                items=False,
            ),
        ),
    )
}


def template_named(key: str) -> FlowTemplate | None:
    return LIBRARY.get(key)
