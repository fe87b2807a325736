"""The Webservice's resources as a simulated shop serves them: each resource's fields in the
order PrestaShop writes them (``webserviceParameters`` first, then the rest of ``$definition``),
and the two ways it writes a value.

- JSON (``WebserviceOutputJSON``): PrestaShop 1.7 writes every field as a string but ``id``
  (the values come from the database as strings); 8.x writes integer and boolean fields as JSON
  integers (issue #31244 shows ``"id_default_group": 3``, ``"deleted": 0``), amounts and dates
  still as strings (``"20.230000"``). Associations are SQL rows: strings in both. A multilingual
  field of a one-language shop is its text.
- XML (``WebserviceOutputXML``): every value in CDATA, ``xlink:href`` on fields that name another
  resource, ``notFilterable="true"`` on computed ones, ``<language id="1">`` children for
  multilingual fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal
from xml.sax.saxutils import quoteattr

__all__ = [
    "ALL_RESOURCES",
    "LANGUAGE_ID",
    "RESOURCES",
    "Association",
    "Field",
    "Resource",
    "as_text",
    "json_value",
    "xml_entity",
    "xml_minimum",
]

Kind = Literal["id", "int", "bool", "price", "decimal", "date", "text"]
LANGUAGE_ID = 1  # the shop's one language (English)

# WebserviceRequest::getResources(): every resource a shop has, for "Did you mean".
ALL_RESOURCES = {
    "addresses": "The Customer, Brand and Customer addresses",
    "attachments": "The product Attachments",
    "carriers": "The Carriers",
    "cart_rules": "Cart rules management",
    "carts": "Customer's carts",
    "categories": "The product categories",
    "combinations": "The product combinations",
    "configurations": "Shop configuration",
    "contacts": "Shop contacts",
    "content_management_system": "Content management system",
    "countries": "The countries",
    "currencies": "The currencies",
    "customer_messages": "Customer services messages",
    "customer_threads": "Customer services threads",
    "customers": "The e-shop's customers",
    "customizations": "Customization values",
    "deliveries": "Product delivery",
    "employees": "The Employees",
    "groups": "The customer's groups",
    "guests": "The guests",
    "image_types": "The image types",
    "images": "The images",
    "languages": "Shop languages",
    "manufacturers": "The product brands",
    "messages": "The Messages",
    "order_carriers": "The Order carriers",
    "order_cart_rules": "The Order cart rules",
    "order_details": "Details of an order",
    "order_histories": "The Order histories",
    "order_invoices": "The Order invoices",
    "order_payments": "The Order payments",
    "order_slip": "The Order slips",
    "order_states": "The Order statuses",
    "orders": "The Customers orders",
    "price_ranges": "Price ranges",
    "product_customization_fields": "Customization Field",
    "product_feature_values": "The product feature values",
    "product_features": "The product features",
    "product_option_values": "The product options value",
    "product_options": "The product options",
    "product_suppliers": "Product Suppliers",
    "products": "The products",
    "search": "Search",
    "shop_groups": "Shop groups from multi-shop feature",
    "shop_urls": "Shop URLs from multi-shop feature",
    "shops": "Shops from multi-shop feature",
    "specific_price_rules": "Specific price management",
    "specific_prices": "Specific price management",
    "states": "The available states of countries",
    "stock_availables": "Available quantities",
    "stock_movement_reasons": "Stock movement reason",
    "stock_movements": "Stock movements",
    "stores": "The stores",
    "suppliers": "The product suppliers",
    "supply_order_details": "Supply Order Details",
    "supply_order_histories": "Supply Order Histories",
    "supply_order_receipt_histories": "Supply Order Receipt Histories",
    "supply_order_states": "Supply Order Statuses",
    "supply_orders": "Supply Orders",
    "tags": "The Products tags",
    "tax_rule_groups": "Tax rule groups",
    "tax_rules": "Tax rules entity",
    "taxes": "The tax rate",
    "translated_configurations": "Shop configuration",
    "warehouse_product_locations": "Location of products in warehouses",
    "warehouses": "Warehouses",
    "weight_ranges": "Weight ranges",
    "zones": "The Countries zones",
}


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a resource: how it is typed, and the resource its value is an id of."""

    name: str
    kind: Kind = "text"
    xlink: str | None = None
    getter: bool = False  # computed by a getter: shown, not filterable
    i18n: bool = False
    since: int = 1  # the first major version that has it


@dataclass(frozen=True, slots=True)
class Association:
    """A list under ``associations`` (an order's ``order_rows``, a customer's ``groups``)."""

    name: str
    node: str
    fields: tuple[str, ...]
    virtual: bool = False
    read_only: bool = False
    api: str | None = None  # the resource each item is one of, linked by its id


@dataclass(frozen=True, slots=True)
class Resource:
    """A Webservice resource: its plural and singular node names and its fields."""

    name: str
    node: str
    fields: tuple[Field, ...]
    associations: tuple[Association, ...] = ()

    def fields_of(self, major: int) -> tuple[Field, ...]:
        return tuple(field for field in self.fields if field.since <= major)


def _price(*names: str) -> tuple[Field, ...]:
    return tuple(Field(name, "price") for name in names)


def _ids(*pairs: tuple[str, str]) -> tuple[Field, ...]:
    return tuple(Field(name, "int", xlink=resource) for name, resource in pairs)


_ORDERS = Resource(
    "orders",
    "order",
    (
        Field("id", "id"),
        *_ids(
            ("id_address_delivery", "addresses"),
            ("id_address_invoice", "addresses"),
            ("id_cart", "carts"),
            ("id_currency", "currencies"),
            ("id_lang", "languages"),
            ("id_customer", "customers"),
            ("id_carrier", "carriers"),
            ("current_state", "order_states"),
        ),
        Field("module"),
        Field("invoice_number", "int"),
        Field("invoice_date", "date"),
        Field("delivery_number", "int"),
        Field("delivery_date", "date"),
        Field("valid", "bool"),
        Field("date_add", "date"),
        Field("date_upd", "date"),
        Field("shipping_number", getter=True),
        Field("id_shop_group", "int"),
        Field("id_shop", "int"),
        Field("secure_key"),
        Field("payment"),
        Field("recyclable", "bool"),
        Field("gift", "bool"),
        Field("gift_message"),
        Field("mobile_theme", "bool"),
        *_price("total_discounts", "total_discounts_tax_incl", "total_discounts_tax_excl"),
        *_price("total_paid", "total_paid_tax_incl", "total_paid_tax_excl", "total_paid_real"),
        *_price("total_products", "total_products_wt"),
        *_price("total_shipping", "total_shipping_tax_incl", "total_shipping_tax_excl"),
        Field("carrier_tax_rate", "decimal"),
        *_price("total_wrapping", "total_wrapping_tax_incl", "total_wrapping_tax_excl"),
        Field("round_mode", "int"),
        Field("round_type", "int"),
        Field("conversion_rate", "decimal"),
        Field("reference"),
        # The merchant's note on the order, new in 8.0 (its place in the output is a guess).
        Field("note", since=8),
    ),
    (
        Association(
            "order_rows",
            "order_row",
            (
                "id",
                "product_id",
                "product_attribute_id",
                "product_quantity",
                "product_name",
                "product_reference",
                "product_ean13",
                "product_isbn",
                "product_upc",
                "product_price",
                "id_customization",
                "unit_price_tax_incl",
                "unit_price_tax_excl",
            ),
            virtual=True,
            read_only=True,
        ),
    ),
)

_CUSTOMERS = Resource(
    "customers",
    "customer",
    (
        Field("id", "id"),
        *_ids(("id_default_group", "groups"), ("id_lang", "languages")),
        Field("newsletter_date_add", "date"),
        Field("ip_registration_newsletter"),
        Field("last_passwd_gen", "date"),
        Field("secure_key"),
        Field("deleted", "bool"),
        Field("passwd"),
        Field("lastname"),
        Field("firstname"),
        Field("email"),
        *_ids(("id_gender", "genders")),
        Field("birthday", "date"),
        Field("newsletter", "bool"),
        Field("optin", "bool"),
        Field("website"),
        Field("company"),
        Field("siret"),
        Field("ape"),
        Field("outstanding_allow_amount", "price"),
        Field("show_public_prices", "bool"),
        *_ids(("id_risk", "risks")),
        Field("max_payment_days", "int"),
        Field("active", "bool"),
        Field("note"),
        Field("is_guest", "bool"),
        *_ids(("id_shop", "shops"), ("id_shop_group", "shop_groups")),
        Field("date_add", "date"),
        Field("date_upd", "date"),
        Field("reset_password_token"),
        Field("reset_password_validity", "date"),
    ),
    (Association("groups", "group", ("id",), api="groups"),),
)

_CURRENCIES = Resource(
    "currencies",
    "currency",
    (
        Field("id", "id"),
        Field("names", getter=True, i18n=True),
        Field("name", getter=True),
        Field("symbol", getter=True, i18n=True),
        Field("iso_code"),
        Field("numeric_iso_code"),
        Field("precision", "int"),
        Field("conversion_rate", "decimal"),
        Field("deleted", "bool"),
        Field("active", "bool"),
        Field("unofficial", "bool"),
        Field("modified", "bool"),
        Field("pattern", i18n=True),
    ),
)

_CONFIGURATIONS = Resource(
    "configurations",
    "configuration",
    (
        Field("id", "id"),
        Field("value"),
        Field("name"),
        Field("id_shop_group", "int"),
        Field("id_shop", "int"),
        Field("date_add", "date"),
        Field("date_upd", "date"),
    ),
)

_ORDER_STATES = Resource(
    "order_states",
    "order_state",
    (
        Field("id", "id"),
        *(Field(name, "bool") for name in ("unremovable", "delivery", "hidden", "send_email")),
        Field("module_name"),
        Field("invoice", "bool"),
        Field("color"),
        *(
            Field(name, "bool")
            for name in (
                "logable",
                "shipped",
                "paid",
                "pdf_delivery",
                "pdf_invoice",
                "deleted",
            )
        ),
        Field("name", i18n=True),
        Field("template", i18n=True),
    ),
)

_ADDRESSES = Resource(
    "addresses",
    "address",
    (
        Field("id", "id"),
        *_ids(
            ("id_customer", "customers"),
            ("id_manufacturer", "manufacturers"),
            ("id_supplier", "suppliers"),
            ("id_warehouse", "warehouses"),
            ("id_country", "countries"),
            ("id_state", "states"),
        ),
        *(
            Field(name)
            for name in (
                "alias",
                "company",
                "lastname",
                "firstname",
                "vat_number",
                "address1",
                "address2",
                "postcode",
                "city",
                "other",
                "phone",
                "phone_mobile",
                "dni",
            )
        ),
        Field("deleted", "bool"),
        Field("date_add", "date"),
        Field("date_upd", "date"),
    ),
)

# The resources the simulated shop serves, by name.
RESOURCES: Mapping[str, Resource] = {
    resource.name: resource
    for resource in (
        _ADDRESSES,
        _CONFIGURATIONS,
        _CURRENCIES,
        _CUSTOMERS,
        _ORDER_STATES,
        _ORDERS,
    )
}

_NUMERIC: frozenset[Kind] = frozenset({"id", "int", "bool"})


def as_text(value: Any, kind: Kind = "text") -> str:
    """A value as the database hands it to PHP (and as 1.7 writes it)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):  # DECIMAL(20,6) columns
        return f"{value:.6f}"
    if isinstance(value, Mapping):  # a multilingual field: the shop's one language
        return str(value.get(LANGUAGE_ID, ""))
    return str(value)


def json_value(field: Field, value: Any, major: int) -> Any:
    """A field's value in JSON, for PrestaShop ``major`` (1 for 1.x, 8 for 8.x)."""
    if field.kind == "id":
        return int(value)
    if major >= 8 and field.kind in _NUMERIC and value not in (None, ""):
        return int(value)
    return as_text(value, field.kind)


def _cdata(text: str) -> str:
    if not text:
        return ""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _xml_field(field: Field, value: Any, ws_url: str) -> str:
    if field.i18n:
        texts = value if isinstance(value, Mapping) else {LANGUAGE_ID: value}
        languages = "".join(
            f'<language id="{language}" xlink:href="{ws_url}languages/{language}">'
            f"{_cdata(as_text(text))}</language>"
            for language, text in texts.items()
        )
        return f"<{field.name}>{languages}</{field.name}>\n"
    text = as_text(value, field.kind)
    attributes = ""
    # WebserviceOutputBuilder::renderField(): no link for an id that is not set.
    if field.xlink and text not in ("", "0"):
        attributes += f' xlink:href="{ws_url}{field.xlink}/{text}"'
    if field.getter:
        attributes += ' notFilterable="true"'
    return f"<{field.name}{attributes}>{_cdata(text)}</{field.name}>\n"


def xml_entity(
    resource: Resource,
    row: Mapping[str, Any],
    shown: Sequence[Field],
    associations: Mapping[str, Sequence[str]],
    ws_url: str,
) -> str:
    """One object in XML: ``shown`` fields, then ``associations`` with the fields asked."""
    parts = [f"<{resource.node}>\n"]
    parts += [f"\t{_xml_field(field, row.get(field.name), ws_url)}" for field in shown]
    if associations:
        parts.append("<associations>\n")
        for association in resource.associations:
            if association.name not in associations:
                continue
            items = row.get("associations", {}).get(association.name, [])
            attributes = ' virtualEntity="true"' if association.virtual else ""
            attributes += ' readOnly="true"' if association.read_only else ""
            attributes += f' nodeType="{association.node}"'
            attributes += f' api="{association.api}"' if association.api else ""
            if not items:
                parts.append(f"<{association.name}{attributes}/>\n")
                continue
            parts.append(f"<{association.name}{attributes}>\n")
            for item in items:
                link = (
                    f' xlink:href="{ws_url}{association.api}/{as_text(item.get("id"))}"'
                    if association.api
                    else ""
                )
                parts.append(f"\t<{association.node}{link}>\n")
                parts += [
                    f"\t<{name}>{_cdata(as_text(item.get(name)))}</{name}>\n"
                    for name in associations[association.name]
                ]
                parts.append(f"\t</{association.node}>\n")
            parts.append(f"</{association.name}>\n")
        parts.append("</associations>\n")
    parts.append(f"</{resource.node}>\n")
    return "".join(parts)


def xml_minimum(resource: Resource, object_id: int, ws_url: str) -> str:
    """One object of a list without ``display``: its id and link only."""
    link = quoteattr(f"{ws_url}{resource.name}/{object_id}")
    return f'<{resource.node} id="{object_id}" xlink:href={link}/>\n'
