"""Profiles: one person per account, found by id, else email, else phone, else external id."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from shoptrack.domain.events import Person
from shoptrack.errors import ConflictError, InputError, NotFoundError
from shoptrack.ids import new_id
from shoptrack.store.schema import profiles
from shoptrack.store.sql import for_update, in_values, insert_ignore, insert_ignore_returning

__all__ = [
    "PROFILE_ATTRIBUTES",
    "PROFILE_DETAILS",
    "PROFILE_SORTS",
    "DuplicateProfileError",
    "ProfileChange",
    "ProfileQuery",
    "ResolvedProfiles",
    "create_profile",
    "get_profile",
    "import_profile",
    "list_profiles",
    "person_key",
    "primary_identifier",
    "resolve_profiles",
    "update_profile",
]

_IDENTIFIERS = ("email", "phone_number", "external_id")
# What a profile says of the person beside their identifiers, each in its own column.
PROFILE_DETAILS = ("first_name", "last_name", "organization", "locale", "title", "image")
# Standard attributes stored in their own columns (Person.attributes).
PROFILE_ATTRIBUTES = ("anonymous_id", "organization", "locale", "title", "image", "location")


def primary_identifier(person: Person) -> tuple[str, str]:
    """The identifier a person is matched by: the first of id, email, phone, external id they
    have. Matching by a lesser identifier while a better one is known could join two people."""
    if person.profile_id:
        return "id", person.profile_id
    for identifier in _IDENTIFIERS:
        value = getattr(person, identifier)
        if value:
            return identifier, value
    raise ValueError("a profile needs an email, a phone number or an external id")


def _find(
    connection: Connection, account_id: str, identifier: str, value: str, *, lock: bool = False
) -> Row[Any] | None:
    query = select(profiles).where(
        profiles.c.account_id == account_id, profiles.c[identifier] == value
    )
    return connection.execute(for_update(connection, query) if lock else query).first()


def _find_or_create(connection: Connection, account_id: str, person: Person, now: datetime) -> str:
    """The id of the person's profile, created when none matches (nothing else is written).

    Concurrent creators of the same person meet on the unique (account, identifier) index: the
    loser's insert does nothing and it reads the winner's row, so there is never a second profile.
    """
    identifier, value = primary_identifier(person)
    row = _find(connection, account_id, identifier, value)
    if row is not None:
        return str(row.id)
    new = _new_row(account_id, person, now)
    # A secondary identifier may belong to another profile already (two customers who share a
    # phone number): then the first insert does nothing, and the second leaves it off.
    secondary = dict.fromkeys(name for name in _IDENTIFIERS if name != identifier)
    for values, conflict in ((new, ()), (new | secondary, ("account_id", identifier))):
        if insert_ignore(connection, profiles, values, conflict=conflict):
            return str(new["id"])
        row = _find(connection, account_id, identifier, value)
        if row is not None:  # another worker created this person first: theirs is the profile
            return str(row.id)
    raise LookupError("a profile was created and cannot be read back")


def _new_row(account_id: str, person: Person, now: datetime) -> dict[str, Any]:
    return {
        "id": new_id(),
        "account_id": account_id,
        "email": person.email,
        "phone_number": person.phone_number,
        "external_id": person.external_id,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "properties": dict(person.properties),
        "created_at": now,
        "updated_at": now,
    } | {name: person.attributes.get(name) for name in PROFILE_ATTRIBUTES}


PersonKey = tuple[str, str, str]


def person_key(account_id: str, person: Person) -> PersonKey:
    """``(account, identifier, value)``: how a person is matched to a profile."""
    return (account_id, *primary_identifier(person))


@dataclass(frozen=True, slots=True)
class ResolvedProfiles:
    """The profile of each person resolved, and which of those profiles were created."""

    ids: dict[PersonKey, str]
    created: frozenset[str]


def resolve_profiles(
    connection: Connection,
    people: Sequence[tuple[str, Person]],
    now: datetime,
    *,
    last_event_at: Mapping[PersonKey, datetime] | None = None,
) -> ResolvedProfiles:
    """The profile ids of many people at once, in a few statements whatever their number: found
    by their primary identifier, created when none matches, updated with what is new (people
    met several times apply in the order given). A profile created here takes its
    ``last_event_at`` from the mapping, if it is given one.

    Concurrent workers never wait on each other in a circle: first the missing profiles are
    inserted, in key order (holding no other profile's lock meanwhile), then every profile is
    locked in id order and updated. A person named by a profile id that does not exist raises
    ``NotFoundError``; a new person whose insert conflicts (another worker created them, or a
    secondary identifier belongs to another profile) is found or created alone.
    """
    wanted: dict[PersonKey, list[Person]] = {}
    for account_id, person in people:
        wanted.setdefault(person_key(account_id, person), []).append(person)
    resolved = _existing_ids(connection, list(wanted))
    missing_ids = [key for key in wanted if key[1] == "id" and key not in resolved]
    if missing_ids:
        raise NotFoundError(
            f"no profile {missing_ids[0][2]} in this account", pointer="/data/attributes/profile"
        )
    created, found_meanwhile = _create_missing(
        connection, wanted, resolved, now, last_event_at or {}
    )
    resolved |= found_meanwhile
    _update_found(connection, wanted, resolved, now)
    return ResolvedProfiles(resolved | created, frozenset(created.values()))


def _create_missing(
    connection: Connection,
    wanted: Mapping[PersonKey, list[Person]],
    found: Mapping[PersonKey, str],
    now: datetime,
    last_event_at: Mapping[PersonKey, datetime],
) -> tuple[dict[PersonKey, str], dict[PersonKey, str]]:
    """Creates the profiles of the people not ``found``, in key order (what later sightings of a
    person add is merged before the insert): the ids of those created, and of those another
    worker created meanwhile (or matched by a secondary identifier), which are to be updated
    like the profiles found."""
    new_keys = sorted(key for key in wanted if key not in found)
    if not new_keys:
        return {}, {}
    rows = []
    for key in new_keys:
        first, *later = wanted[key]
        row = _new_row(key[0], first, now) | {"last_event_at": last_event_at.get(key)}
        for person in later:
            row |= _changes(row, person)
        rows.append(row)
    inserted = {str(row.id) for row in insert_ignore_returning(connection, profiles, rows, ["id"])}
    created: dict[PersonKey, str] = {}
    elsewhere: dict[PersonKey, str] = {}
    for key, row in zip(new_keys, rows, strict=True):
        if row["id"] in inserted:
            created[key] = str(row["id"])
        else:  # rare: found or created alone
            elsewhere[key] = _find_or_create(connection, key[0], wanted[key][0], now)
    return created, elsewhere


def _existing_ids(connection: Connection, keys: Sequence[PersonKey]) -> dict[PersonKey, str]:
    """The ids of the profiles that match ``keys`` (unlocked)."""
    found: dict[PersonKey, str] = {}
    by_identifier: dict[str, list[tuple[str, str]]] = {}
    for account_id, identifier, value in keys:
        by_identifier.setdefault(identifier, []).append((account_id, value))
    for identifier, pairs in sorted(by_identifier.items()):
        column = profiles.c[identifier]
        for start in range(0, len(pairs), 500):
            chunk = pairs[start : start + 500]
            query = select(profiles.c.id, profiles.c.account_id, column).where(
                in_values(connection, (profiles.c.account_id, column), chunk)
            )
            for row in connection.execute(query):
                found[(row.account_id, identifier, row[2])] = str(row.id)
    return found


def _update_found(
    connection: Connection,
    wanted: Mapping[PersonKey, list[Person]],
    resolved: Mapping[PersonKey, str],
    now: datetime,
) -> None:
    """Locks the profiles found, in id order, and writes what their people add to them; a
    profile erased since it was looked up fails the set (its rows are tried again)."""
    if not resolved:
        return
    people_of: dict[str, list[Person]] = {}
    for key, profile_id in resolved.items():
        people_of.setdefault(profile_id, []).extend(wanted[key])
    query = (
        select(profiles)
        .where(in_values(connection, (profiles.c.id,), sorted(people_of)))
        .order_by(profiles.c.id)
    )
    rows = connection.execute(for_update(connection, query)).all()
    if len(rows) != len(people_of):
        raise LookupError("a profile was erased while its events were being recorded")
    for row in rows:
        current = dict(row._mapping)
        for person in people_of[row.id]:
            current |= _changes(current, person)
        changes = {name: value for name, value in current.items() if value != row._mapping[name]}
        if changes:
            connection.execute(
                update(profiles).where(profiles.c.id == row.id).values(**changes, updated_at=now)
            )


def _changes(row: Mapping[str, Any], person: Person) -> dict[str, Any]:
    """What the person adds to the stored profile: new values, or (from the API) changed ones.
    Identifiers are never changed this way; a profile is re-keyed only by its own update."""
    given: dict[str, Any] = {
        "first_name": person.first_name,
        "last_name": person.last_name,
        **{name: person.attributes.get(name) for name in PROFILE_ATTRIBUTES},
    }
    changes = {
        name: value
        for name, value in given.items()
        if value is not None and value != row[name] and (person.overwrite or row[name] is None)
    }
    if person.properties:
        merged = {**row["properties"], **person.properties}
        if merged != row["properties"]:
            changes["properties"] = merged
    return changes


class DuplicateProfileError(ConflictError):
    """An identifier given for a profile already belongs to another profile of the account."""

    code = "duplicate_profile"

    def __init__(self, profile_id: str) -> None:
        super().__init__(
            "A profile already exists with one of these identifiers.",
            pointer="/data/attributes",
            meta={"duplicate_profile_id": profile_id},
        )


# Attributes a request replaces outright; ``location`` and ``properties`` merge instead.
_REPLACED = (*_IDENTIFIERS, "anonymous_id", *PROFILE_DETAILS)


@dataclass(frozen=True, slots=True)
class ProfileChange:
    """What a request does to a profile, by Klaviyo's rules.

    ``attributes`` holds only the attributes the request gave: each replaces the stored value and
    ``None`` clears it, while an omitted one stays as it is. ``location`` (a mapping of the
    sub-fields given) and ``properties`` merge key by key, ``None`` clearing the whole object.
    ``append``, ``unappend`` and ``unset`` are Klaviyo's ``meta.patch_properties``, applied after
    the properties.
    """

    attributes: Mapping[str, Any] = field(default_factory=dict)
    append: Mapping[str, Any] = field(default_factory=dict)
    unappend: Mapping[str, Any] = field(default_factory=dict)
    unset: tuple[str, ...] = ()

    def identifiers(self) -> dict[str, str]:
        """The identifiers the request gives a value, in matching order."""
        return {name: value for name in _IDENTIFIERS if (value := self.attributes.get(name))}

    def applied_to(self, current: Mapping[str, Any]) -> dict[str, Any]:
        """The column values of a profile stored as ``current`` once the change is made."""
        values = {name: self.attributes[name] for name in _REPLACED if name in self.attributes}
        if "location" in self.attributes:
            given = self.attributes["location"]
            merged = {**(current.get("location") or {}), **(given or {})}
            kept = {name: value for name, value in merged.items() if value is not None}
            values["location"] = kept if given is not None and kept else None
        properties = dict(current.get("properties") or {})
        if "properties" in self.attributes:
            given = self.attributes["properties"]
            properties = {} if given is None else properties | dict(given)
        values["properties"] = self._patched(properties)
        return values

    def _patched(self, properties: dict[str, Any]) -> dict[str, Any]:
        """``properties`` after append (a value or a list of them, onto a list property, which
        a missing or single value becomes), unappend and unset."""
        for name, value in self.append.items():
            existing = properties.get(name)
            properties[name] = [*([] if existing is None else _as_list(existing)), *_as_list(value)]
        for name, value in self.unappend.items():
            if isinstance(properties.get(name), list):
                removed = _as_list(value)
                properties[name] = [item for item in properties[name] if item not in removed]
        for name in self.unset:
            properties.pop(name, None)
        return properties


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True, slots=True)
class ProfileQuery:
    """Which profiles, in which order, from where: Klaviyo's ``GET /api/profiles`` parameters.

    Every entry of ``matches`` must hold (the column equals one of its values); ``after`` and
    ``before`` are exclusive bounds on ``created_at`` or ``updated_at``. ``after_key`` is the
    keyset cursor: the sort value and id of the previous page's last profile.
    """

    account_id: str
    matches: tuple[tuple[str, tuple[str, ...]], ...] = ()
    after: tuple[tuple[str, datetime], ...] = ()
    before: tuple[tuple[str, datetime], ...] = ()
    sort: str = "id"
    descending: bool = False
    after_key: tuple[Any, str] | None = None
    limit: int = 20


PROFILE_SORTS = ("id", "created_at", "updated_at", "email")


def _sort_key(sort: str) -> ColumnElement[Any]:
    # Profiles without an email sort as the empty string: SQLite and PostgreSQL place NULLs at
    # opposite ends, and a keyset cursor needs one total order on both.
    return func.coalesce(profiles.c.email, "") if sort == "email" else profiles.c[sort]


def list_profiles(connection: Connection, query: ProfileQuery) -> list[Row[Any]]:
    """Up to ``limit + 1`` profiles (one more than asked tells the caller a next page exists)."""
    if query.sort not in PROFILE_SORTS:
        raise ValueError(f"profiles sort by one of {PROFILE_SORTS}, not {query.sort!r}")
    conditions: list[ColumnElement[bool]] = [profiles.c.account_id == query.account_id]
    conditions += [profiles.c[name].in_(values) for name, values in query.matches]
    conditions += [profiles.c[name] > moment for name, moment in query.after]
    conditions += [profiles.c[name] < moment for name, moment in query.before]
    key = _sort_key(query.sort)
    if query.after_key is not None:
        value, profile_id = query.after_key
        if query.descending:
            conditions.append(or_(key < value, and_(key == value, profiles.c.id < profile_id)))
        else:
            conditions.append(or_(key > value, and_(key == value, profiles.c.id > profile_id)))
    order = (
        (key.desc(), profiles.c.id.desc()) if query.descending else (key.asc(), profiles.c.id.asc())
    )
    statement = select(profiles).where(*conditions).order_by(*order).limit(query.limit + 1)
    return list(connection.execute(statement))


def get_profile(connection: Connection, account_id: str, profile_id: str) -> Row[Any] | None:
    """The profile ``profile_id`` of the account, or None (also when another account has it)."""
    return _find(connection, account_id, "id", profile_id)


def create_profile(
    connection: Connection, account_id: str, change: ProfileChange, now: datetime
) -> Row[Any]:
    """A new profile made of ``change``; ``DuplicateProfileError`` names the profile that holds
    one of its identifiers already."""
    row = _insert(connection, account_id, change, now)
    if row is None:
        raise _duplicate(connection, account_id, change.identifiers())
    return row


def update_profile(
    connection: Connection, account_id: str, profile_id: str, change: ProfileChange, now: datetime
) -> Row[Any]:
    """The profile after ``change``; ``NotFoundError`` when the account has no such profile."""
    row = _find(connection, account_id, "id", profile_id, lock=True)
    if row is None:
        raise NotFoundError(f"no profile {profile_id} in this account", parameter="id")
    return _apply(connection, row, change, now)


def import_profile(
    connection: Connection,
    account_id: str,
    profile_id: str | None,
    change: ProfileChange,
    now: datetime,
) -> tuple[Row[Any], bool]:
    """Klaviyo's upsert: the profile with ``profile_id``, else the first found by email, phone
    number or external id, is updated; with none, one is created. Returns it and whether it was
    created."""
    if profile_id is not None:
        row = _find(connection, account_id, "id", profile_id, lock=True)
        if row is None:
            raise NotFoundError(f"no profile {profile_id} in this account", pointer="/data/id")
        return _apply(connection, row, change, now), False
    identifiers = change.identifiers()
    if not identifiers:
        raise _missing_identifier_error()
    ranked = list(identifiers)
    # Twice: a concurrent import may create the same person between the lookup and the insert.
    for _attempt in range(2):
        for rank, name in enumerate(ranked):
            row = _find(connection, account_id, name, identifiers[name], lock=True)
            if row is None:
                continue
            # Found by a lesser identifier: the better ones given belong to no profile, so a
            # profile holding other values of them is another person, not this one re-keyed.
            if any(row._mapping[better] is not None for better in ranked[:rank]):
                raise DuplicateProfileError(row.id)
            return _apply(connection, row, change, now), False
        created = _insert(connection, account_id, change, now)
        if created is not None:
            return created, True
    raise _duplicate(connection, account_id, identifiers)


def _missing_identifier_error() -> InputError:
    return InputError(
        "a profile needs an email, a phone_number or an external_id", pointer="/data/attributes"
    )


def _insert(
    connection: Connection, account_id: str, change: ProfileChange, now: datetime
) -> Row[Any] | None:
    """The new profile, or None when one of its identifiers belongs to another profile."""
    values = dict.fromkeys((*_REPLACED, "location")) | change.applied_to({})
    if not any(values[name] for name in _IDENTIFIERS):
        raise _missing_identifier_error()
    profile_id = new_id()
    row = {"id": profile_id, "account_id": account_id, "created_at": now, "updated_at": now}
    if not insert_ignore(connection, profiles, row | values, conflict=()):
        return None
    return _find(connection, account_id, "id", profile_id)


def _apply(connection: Connection, row: Row[Any], change: ProfileChange, now: datetime) -> Row[Any]:
    """Writes ``change`` onto the locked profile ``row``."""
    current = dict(row._mapping)
    changed = {
        name: value for name, value in change.applied_to(current).items() if value != current[name]
    }
    if not changed:
        return row
    if not any({**current, **changed}[name] for name in _IDENTIFIERS):
        raise _missing_identifier_error()
    taken = {name: changed[name] for name in _IDENTIFIERS if changed.get(name)}
    holder = _holder(connection, row.account_id, taken, excluding=row.id)
    if holder is not None:
        raise DuplicateProfileError(holder)
    try:
        with connection.begin_nested():
            connection.execute(
                update(profiles).where(profiles.c.id == row.id).values(**changed, updated_at=now)
            )
    except IntegrityError:
        # Another request gave one of these identifiers to a profile since the check above.
        raise _duplicate(connection, row.account_id, taken, excluding=row.id) from None
    updated = _find(connection, row.account_id, "id", row.id)
    if updated is None:
        raise LookupError("a profile was updated and cannot be read back")
    return updated


def _holder(
    connection: Connection,
    account_id: str,
    identifiers: Mapping[str, str],
    *,
    excluding: str | None = None,
) -> str | None:
    """The id of a profile (other than ``excluding``) holding any of ``identifiers``."""
    if not identifiers:
        return None
    held = or_(*(profiles.c[name] == value for name, value in identifiers.items()))
    statement = select(profiles.c.id).where(profiles.c.account_id == account_id, held)
    if excluding is not None:
        statement = statement.where(profiles.c.id != excluding)
    found = connection.execute(statement.order_by(profiles.c.id).limit(1)).scalar()
    return None if found is None else str(found)


def _duplicate(
    connection: Connection,
    account_id: str,
    identifiers: Mapping[str, str],
    *,
    excluding: str | None = None,
) -> DuplicateProfileError:
    """The error naming the profile whose unique identifier a write just collided with."""
    holder = _holder(connection, account_id, identifiers, excluding=excluding)
    if holder is None:
        raise LookupError("an identifier collided with a profile that cannot be found")
    return DuplicateProfileError(holder)
