"""Reading observations back: typed query helpers, pre-send checks, and page walking.

* :class:`TimeSeriesQuery` builds a query body from plain arguments (user ids,
  batches, metrics, sources, external ids, a time window, a sort and an
  optional raw filter), so the usual query needs no MongoDB syntax.
* :func:`prepare_query` checks any query body (a dict, a generated
  ``QueryRequest`` or a :class:`TimeSeriesQuery`) against the API's rules
  before anything is sent, raising :class:`~genomcore_sdk.errors.QueryValidationError`.
* :class:`PageWalker` is the page-walking logic without any I/O: it says which
  page to fetch next and checks each answered page. The synchronous iterator
  (``client.time_series.iter_time_series``) drives it with blocking calls; an
  asynchronous client drives the same object with ``await``.
* :func:`observations_to_dataframe` turns observations into a pandas DataFrame.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal

import attrs
from genomcore_ts_api.models import QueryPage, QueryRequest, StoredObservation

from .errors import PaginationError, QueryValidationError
from .filter_spec import (
    QUERY_BODY_FIELDS,
    FilterSpecError,
    check_sort,
    parse_filter,
    parse_instant,
    parse_window_bound,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DATAFRAME_COLUMNS",
    "MAX_PAGE_SIZE",
    "Instant",
    "PageRequest",
    "PageWalker",
    "SortOrder",
    "Strings",
    "TimeSeriesQuery",
    "UserIds",
    "observations_to_dataframe",
    "prepare_query",
]

logger = logging.getLogger("genomcore_sdk.query")

MAX_PAGE_SIZE = 5000
"""The most observations the API answers per page."""

SortOrder = Literal["asc", "desc", 1, -1] | Mapping[str, int]
"""``"asc"`` / ``"desc"`` (or 1 / -1) on ``timestamp``, or a sort object such as ``{"meta.userId": 1, "timestamp": -1}``."""

UserIds = int | Iterable[int]
"""One user id or several (any of them matches)."""

Strings = str | Iterable[str]
"""One string value or several (any of them matches)."""

Instant = datetime | date | str
"""A timezone-aware datetime, a date (00:00 UTC), or an ISO 8601 string (date, or date-time with offset)."""

DATAFRAME_COLUMNS: tuple[str, ...] = (
    "id",
    "timestamp",
    "meta.userId",
    "meta.source",
    "meta.metric",
    "meta.externalId",
    "meta.batch",
    "point.start",
    "point.end",
    "point.value",
)
"""Columns of :func:`observations_to_dataframe`: id, timestamp, then the vendor CSV layout."""


# --------------------------------------------------------------------------- conversions


def _refuse(message: str) -> QueryValidationError:
    return QueryValidationError(f"{message}. Nothing was sent.")


def _instant(value: Any, name: str) -> datetime:
    """An aware UTC datetime from a datetime, a date or an ISO string; naive datetimes refused."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise _refuse(
                f"{name}={value!r} is a naive datetime; give it a time zone "
                f"(e.g. {name}=datetime(..., tzinfo=timezone.utc)) so the window is unambiguous"
            )
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            return parse_instant(value, allow_date=True)
        except FilterSpecError as exc:
            raise _refuse(f"{name}: {exc}") from None
    raise _refuse(
        f"{name} must be a datetime with a time zone, a date, or an ISO 8601 string, "
        f"got {type(value).__name__} {value!r}"
    )


def format_instant(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` (fraction only when non-zero)."""
    moment = moment.astimezone(UTC)
    text = f"{moment.year:04d}" + moment.strftime("-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def _json_ready(value: Any, path: str) -> Any:
    """A filter with datetimes as RFC 3339 strings and tuples/sets as lists, ready for JSON."""
    if isinstance(value, Mapping):
        return {key: _json_ready(item, f"{path}.{key}") for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, set | frozenset):
        return [_json_ready(item, f"{path}[]") for item in sorted(value, key=repr)]
    if isinstance(value, datetime | date):
        return format_instant(_instant(value, path))
    return value


def _values(
    value: Any, name: str, kind: type[int] | type[str]
) -> tuple[int, ...] | tuple[str, ...] | None:
    """One value or an iterable of values as a tuple; None stays None."""
    if value is None:
        return None
    items = [value] if isinstance(value, str | bytes | numbers.Number) else list(value)
    if not items:
        raise _refuse(
            f"{name} is empty, which would match nothing; pass None (the default) "
            f"not to filter on it"
        )
    checked: list[Any] = []
    for item in items:
        if kind is int:
            ok = isinstance(item, numbers.Integral) and not isinstance(item, bool)
            if ok:
                item = int(item)  # type: ignore[arg-type]
        else:
            ok = isinstance(item, str) and item != ""
        if not ok:
            wanted = "integers" if kind is int else "non-empty strings"
            raise _refuse(
                f"{name} takes {wanted} (one or a list), got {type(item).__name__} {item!r}"
            )
        checked.append(item)
    return tuple(dict.fromkeys(checked))  # drop repeats, keep order


def _user_ids(value: Any) -> tuple[int, ...] | None:
    return _values(value, "user_ids", int)  # type: ignore[return-value]


def _batches(value: Any) -> tuple[str, ...] | None:
    return _values(value, "batches", str)  # type: ignore[return-value]


def _metrics(value: Any) -> tuple[str, ...] | None:
    return _values(value, "metrics", str)  # type: ignore[return-value]


def _sources(value: Any) -> tuple[str, ...] | None:
    return _values(value, "sources", str)  # type: ignore[return-value]


def _external_ids(value: Any) -> tuple[str, ...] | None:
    return _values(value, "external_ids", str)  # type: ignore[return-value]


def _start(value: Any) -> datetime | None:
    return None if value is None else _instant(value, "start")


def _end(value: Any) -> datetime | None:
    return None if value is None else _instant(value, "end")


def _sort(value: Any) -> dict[str, int] | None:
    if value is None:
        return None
    if not isinstance(value, bool) and value in (1, -1):
        return {"timestamp": int(value)}
    if isinstance(value, str):
        lowered = value.lower()
        if lowered in ("asc", "ascending"):
            return {"timestamp": 1}
        if lowered in ("desc", "descending"):
            return {"timestamp": -1}
        raise _refuse(f'sort must be "asc", "desc", 1, -1 or a sort object, got {value!r}')
    try:
        return check_sort(value)
    except FilterSpecError as exc:
        raise _refuse(str(exc)) from None


def _filter(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _refuse(f"filter must be a dict of conditions, got {type(value).__name__}")
    ready: dict[str, Any] = _json_ready(value, "filter")
    _check_filter(ready)
    return ready


def _check_filter(spec: Any) -> None:
    try:
        parse_filter(spec, strict=True)
    except FilterSpecError as exc:
        raise _refuse(f"invalid filter: {exc}") from None


# --------------------------------------------------------------------------- the builder


@attrs.frozen(kw_only=True)
class TimeSeriesQuery:
    """A query described with plain arguments; every criterion given must hold (AND).

    Each of ``user_ids``, ``batches``, ``metrics``, ``sources`` and
    ``external_ids`` takes one value or a list (any of them matches). The
    window is half-open on ``timestamp`` (``point.start``): ``start <=
    timestamp < end``; each bound is a timezone-aware ``datetime``, a ``date``
    (00:00 UTC), or an ISO 8601 string (a date, or a date-time with an
    offset). Naive datetimes are refused: attach a time zone. ``start`` and
    ``end`` go to the API as ``beforeDate`` and ``afterDate`` (the API's
    names for the lower and upper bound). ``filter`` is a raw MongoDB-style
    filter combined with the rest by ``$and``; it is checked before sending
    (datetimes in it are sent as RFC 3339 strings).

    Every argument is checked when the query is built, raising
    :class:`~genomcore_sdk.errors.QueryValidationError` naming the argument.

    Attributes:
        user_ids: ``meta.userId`` values.
        batches: ``meta.batch`` values.
        metrics: ``meta.metric`` values.
        sources: ``meta.source`` values.
        external_ids: ``meta.externalId`` values.
        start: inclusive lower bound of ``timestamp`` (UTC).
        end: exclusive upper bound of ``timestamp`` (UTC).
        sort: ``"asc"`` / ``"desc"`` on ``timestamp`` or a sort object; the API's
            default is ascending ``timestamp``. Ties are broken by ``id``.
        filter: extra raw filter.

    Examples:
        >>> q = TimeSeriesQuery(user_ids=1, metrics=["activity_counts"],
        ...                     start="2015-07-05", end="2015-07-06", sort="desc")
        >>> q.to_body()
        {'filter': {'meta.userId': 1, 'meta.metric': 'activity_counts'}, 'sort': {'timestamp': -1}, \
'beforeDate': '2015-07-05T00:00:00Z', 'afterDate': '2015-07-06T00:00:00Z'}
    """

    user_ids: tuple[int, ...] | None = attrs.field(default=None, converter=_user_ids)
    batches: tuple[str, ...] | None = attrs.field(default=None, converter=_batches)
    metrics: tuple[str, ...] | None = attrs.field(default=None, converter=_metrics)
    sources: tuple[str, ...] | None = attrs.field(default=None, converter=_sources)
    external_ids: tuple[str, ...] | None = attrs.field(default=None, converter=_external_ids)
    start: datetime | None = attrs.field(default=None, converter=_start)
    end: datetime | None = attrs.field(default=None, converter=_end)
    sort: dict[str, int] | None = attrs.field(default=None, converter=_sort)
    filter: dict[str, Any] | None = attrs.field(default=None, converter=_filter)

    def __attrs_post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise _refuse(
                f"start ({format_instant(self.start)}) is after end ({format_instant(self.end)}); "
                "the window is start <= timestamp < end"
            )

    def conditions(self) -> dict[str, Any]:
        """The filter the plain arguments make (without ``filter``)."""
        conditions: dict[str, Any] = {}
        for field, values in (
            ("meta.userId", self.user_ids),
            ("meta.source", self.sources),
            ("meta.metric", self.metrics),
            ("meta.externalId", self.external_ids),
            ("meta.batch", self.batches),
        ):
            if values is not None:
                conditions[field] = values[0] if len(values) == 1 else {"$in": list(values)}
        return conditions

    def to_body(self) -> dict[str, Any]:
        """The query body (``filter``, ``sort``, ``beforeDate``, ``afterDate``) as a dict."""
        body: dict[str, Any] = {}
        conditions = self.conditions()
        if conditions and self.filter:
            body["filter"] = {"$and": [conditions, self.filter]}
        elif conditions or self.filter:
            body["filter"] = conditions or self.filter
        if self.sort is not None:
            body["sort"] = dict(self.sort)
        if self.start is not None:
            body["beforeDate"] = format_instant(self.start)
        if self.end is not None:
            body["afterDate"] = format_instant(self.end)
        return body

    def to_request(self) -> QueryRequest:
        """The body as the generated ``QueryRequest``."""
        return QueryRequest.from_dict(self.to_body())


QueryBody = Mapping[str, Any] | QueryRequest | TimeSeriesQuery
"""What the query methods take as ``body``."""


def prepare_query(body: QueryBody | None) -> QueryRequest:
    """Check a query body as the API would and return it as a ``QueryRequest``.

    A dict may use datetimes in its filter (sent as RFC 3339 strings).

    Raises:
        QueryValidationError: an unknown body key, an unsupported operator, an
            unknown field, a value that can never match its field, a bad sort
            or a bad ``beforeDate``/``afterDate``; the message names it and
            lists what is supported. Nothing was sent.

    Examples:
        >>> prepare_query({"filter": {"meta.user": 1}})
        Traceback (most recent call last):
        ...
        genomcore_sdk.errors.QueryValidationError: invalid filter: unknown field 'meta.user'; ...
    """
    if isinstance(body, TimeSeriesQuery):
        return body.to_request()
    raw: dict[str, Any]
    if body is None:
        raw = {}
    elif isinstance(body, QueryRequest):
        raw = body.to_dict()
    elif isinstance(body, Mapping):
        raw = dict(body)
    else:
        raise _refuse(
            "body must be a dict like {'filter': {...}, 'sort': {...}, 'beforeDate': ..., "
            f"'afterDate': ...}}, a QueryRequest or a TimeSeriesQuery, got {type(body).__name__}"
        )
    unknown = [key for key in raw if key not in QUERY_BODY_FIELDS]
    if unknown:
        raise _refuse(
            f"unknown query body key(s) {unknown}; allowed: filter, sort, beforeDate, afterDate "
            "(the window is beforeDate <= timestamp < afterDate)"
        )
    if raw.get("filter") is not None:
        raw["filter"] = _filter(raw["filter"])
    else:
        raw.pop("filter", None)
    if raw.get("sort") is not None:
        raw["sort"] = _sort(raw["sort"])
    else:
        raw.pop("sort", None)
    for name in ("beforeDate", "afterDate"):
        value = raw.get(name)
        if value is None:
            raw.pop(name, None)
        elif isinstance(value, datetime | date):
            raw[name] = format_instant(_instant(value, name))
        else:
            try:
                parse_window_bound(value, name)
            except FilterSpecError as exc:
                raise _refuse(str(exc)) from None
    return QueryRequest.from_dict(raw)


def check_page_size(page_size: Any) -> int:
    """``page_size`` if it is an integer from 1 to :data:`MAX_PAGE_SIZE`."""
    if (
        not isinstance(page_size, int)
        or isinstance(page_size, bool)
        or not 1 <= page_size <= MAX_PAGE_SIZE
    ):
        raise _refuse(
            f"page size must be an integer from 1 to {MAX_PAGE_SIZE} (the API's limit), "
            f"got {page_size!r}"
        )
    return page_size


# --------------------------------------------------------------------------- page walking


@attrs.frozen
class PageRequest:
    """One page to fetch: pass these to ``query_time_series`` (or its async twin)."""

    page: int
    page_size: int
    body: QueryRequest


class PageWalker:
    """Which page to read next, and whether the pages answered hang together; no I/O.

    Drive it with any transport::

        walker = PageWalker(request, page_size=500)
        while (want := walker.next_request()) is not None:
            page = fetch(want.page, want.page_size, want.body)      # or: await fetch(...)
            yield from walker.accept(page)

    It stops after the last page (``hasMore`` false, an empty page, or as
    many observations as ``total`` said). Reading pages one after another
    with the API's total and stable order yields every match exactly once;
    if the collection changes while paging (``total`` changes, or a page
    repeats an id of the page before it), observations could be skipped or
    repeated, so :class:`~genomcore_sdk.errors.PaginationError` is raised
    instead of returning a silently wrong result.

    Attributes:
        total: how many observations match, from the first page (None before it).
        yielded: observations accepted so far.
        pages: pages accepted so far.
    """

    def __init__(self, body: QueryRequest, page_size: int = 500) -> None:
        self.body = body
        self.page_size = check_page_size(page_size)
        self.total: int | None = None
        self.yielded = 0
        self.pages = 0
        self._next_page: int | None = 0
        self._previous_ids: frozenset[str] = frozenset()

    @property
    def done(self) -> bool:
        """Whether every page has been read."""
        return self._next_page is None

    def next_request(self) -> PageRequest | None:
        """The next page to fetch, or None when done."""
        if self._next_page is None:
            return None
        return PageRequest(self._next_page, self.page_size, self.body)

    def accept(self, page: QueryPage) -> list[StoredObservation]:
        """Check the answer to :meth:`next_request` and return its observations."""
        expected = self._next_page
        if expected is None:
            raise RuntimeError("accept() called after the last page")
        if page.page != expected:
            raise PaginationError(
                f"asked for page {expected}, the server answered page {page.page}; the "
                "pages cannot be trusted to cover every match: read again, and report it "
                "to the API's support if it persists"
            )
        if self.total is None:
            self.total = page.total
        elif page.total != self.total:
            raise PaginationError(
                f"the number of matching observations changed from {self.total} to "
                f"{page.total} while reading page {expected} (observations were added or "
                "deleted meanwhile), so some could be skipped or repeated; read again "
                "once the data stops changing"
            )
        ids = frozenset(obs.id for obs in page.data)
        repeated = ids & self._previous_ids
        if repeated:
            raise PaginationError(
                f"page {expected} repeats {len(repeated)} observation(s) of page "
                f"{expected - 1} (e.g. id {min(repeated)}); the collection changed while paging"
            )
        self._previous_ids = ids
        self.pages += 1
        self.yielded += len(page.data)
        if not page.data or not page.has_more or self.yielded >= self.total:
            self._next_page = None
        else:
            self._next_page = expected + 1
        logger.debug(
            "page %d: %d observations (%d of %d)",
            expected,
            len(page.data),
            self.yielded,
            self.total,
        )
        return list(page.data)


# --------------------------------------------------------------------------- DataFrame


def observations_to_dataframe(observations: Iterable[StoredObservation]) -> pd.DataFrame:
    """Observations as a pandas DataFrame, one row each (needs ``genomcore-sdk[pandas]``).

    Columns (:data:`DATAFRAME_COLUMNS`): ``id`` (string), ``timestamp``,
    ``point.start`` and ``point.end`` (timezone-aware ``datetime64`` in UTC),
    ``meta.userId`` and ``point.value`` (int64) and the other ``meta.*``
    strings, i.e. the vendor CSV layout plus ``id`` and ``timestamp``. The
    index is a plain range; use ``df.set_index("timestamp")`` for a time index
    and ``df["timestamp"].dt.tz_convert(...)`` for local time.
    """
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "to_dataframe needs pandas: pip install 'genomcore-sdk[pandas]'"
        ) from None
    columns: dict[str, list[Any]] = {name: [] for name in DATAFRAME_COLUMNS}
    for obs in observations:
        meta, point = obs.meta, obs.point
        columns["id"].append(obs.id)
        columns["timestamp"].append(obs.timestamp)
        columns["meta.userId"].append(meta.user_id)
        columns["meta.source"].append(meta.source)
        columns["meta.metric"].append(meta.metric)
        columns["meta.externalId"].append(meta.external_id)
        columns["meta.batch"].append(meta.batch)
        columns["point.start"].append(point.start)
        columns["point.end"].append(point.end)
        columns["point.value"].append(point.value)
    data: dict[str, Any] = {}
    for name, values in columns.items():
        if name in ("timestamp", "point.start", "point.end"):
            data[name] = pd.to_datetime(pd.Series(values, dtype=object), utc=True)
        elif name in ("meta.userId", "point.value"):
            data[name] = pd.Series(values, dtype="int64")
        else:
            data[name] = pd.Series(values, dtype="string")
    return pd.DataFrame(data, columns=list(DATAFRAME_COLUMNS))
