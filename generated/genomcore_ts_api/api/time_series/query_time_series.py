from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.query_page import QueryPage
from ...models.query_request import QueryRequest
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: QueryRequest,
    page: int | Unset = 0,
    page_size: int | Unset = 500,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    params: dict[str, Any] = {}

    params["page"] = page

    params["pageSize"] = page_size

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/time-series/query",
        "params": params,
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | QueryPage | None:
    if response.status_code == 200:
        response_200 = QueryPage.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Error.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Error.from_dict(response.json())

        return response_401

    if response.status_code == 422:
        response_422 = Error.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = Error.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = Error.from_dict(response.json())

        return response_500

    if response.status_code == 503:
        response_503 = Error.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | QueryPage]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: QueryRequest,
    page: int | Unset = 0,
    page_size: int | Unset = 500,
) -> Response[Error | QueryPage]:
    """Query observations, one page at a time

     Answers one page of the observations that match `filter` and the time
    window, in `sort` order. Pages are numbered from 0. The order is total
    and stable (ties are broken by `id`), so reading pages 0, 1, 2, ... of
    an unchanged collection yields every match exactly once.

    Args:
        page (int | Unset):  Default: 0.
        page_size (int | Unset):  Default: 500.
        body (QueryRequest): What to read. The time window is half-open on `timestamp`
            (`point.start`): `beforeDate` <= timestamp < `afterDate`. Each bound
            is optional and is either a date (`2024-04-01`, meaning 00:00 UTC that
            day) or an RFC 3339 date-time with offset. So `beforeDate: 2024-04-01,
            afterDate: 2024-04-08` selects the seven days from 1 April 00:00 UTC up
            to, not including, 8 April.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | QueryPage]
    """

    kwargs = _get_kwargs(
        body=body,
        page=page,
        page_size=page_size,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: QueryRequest,
    page: int | Unset = 0,
    page_size: int | Unset = 500,
) -> Error | QueryPage | None:
    """Query observations, one page at a time

     Answers one page of the observations that match `filter` and the time
    window, in `sort` order. Pages are numbered from 0. The order is total
    and stable (ties are broken by `id`), so reading pages 0, 1, 2, ... of
    an unchanged collection yields every match exactly once.

    Args:
        page (int | Unset):  Default: 0.
        page_size (int | Unset):  Default: 500.
        body (QueryRequest): What to read. The time window is half-open on `timestamp`
            (`point.start`): `beforeDate` <= timestamp < `afterDate`. Each bound
            is optional and is either a date (`2024-04-01`, meaning 00:00 UTC that
            day) or an RFC 3339 date-time with offset. So `beforeDate: 2024-04-01,
            afterDate: 2024-04-08` selects the seven days from 1 April 00:00 UTC up
            to, not including, 8 April.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | QueryPage
    """

    return sync_detailed(
        client=client,
        body=body,
        page=page,
        page_size=page_size,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: QueryRequest,
    page: int | Unset = 0,
    page_size: int | Unset = 500,
) -> Response[Error | QueryPage]:
    """Query observations, one page at a time

     Answers one page of the observations that match `filter` and the time
    window, in `sort` order. Pages are numbered from 0. The order is total
    and stable (ties are broken by `id`), so reading pages 0, 1, 2, ... of
    an unchanged collection yields every match exactly once.

    Args:
        page (int | Unset):  Default: 0.
        page_size (int | Unset):  Default: 500.
        body (QueryRequest): What to read. The time window is half-open on `timestamp`
            (`point.start`): `beforeDate` <= timestamp < `afterDate`. Each bound
            is optional and is either a date (`2024-04-01`, meaning 00:00 UTC that
            day) or an RFC 3339 date-time with offset. So `beforeDate: 2024-04-01,
            afterDate: 2024-04-08` selects the seven days from 1 April 00:00 UTC up
            to, not including, 8 April.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | QueryPage]
    """

    kwargs = _get_kwargs(
        body=body,
        page=page,
        page_size=page_size,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: QueryRequest,
    page: int | Unset = 0,
    page_size: int | Unset = 500,
) -> Error | QueryPage | None:
    """Query observations, one page at a time

     Answers one page of the observations that match `filter` and the time
    window, in `sort` order. Pages are numbered from 0. The order is total
    and stable (ties are broken by `id`), so reading pages 0, 1, 2, ... of
    an unchanged collection yields every match exactly once.

    Args:
        page (int | Unset):  Default: 0.
        page_size (int | Unset):  Default: 500.
        body (QueryRequest): What to read. The time window is half-open on `timestamp`
            (`point.start`): `beforeDate` <= timestamp < `afterDate`. Each bound
            is optional and is either a date (`2024-04-01`, meaning 00:00 UTC that
            day) or an RFC 3339 date-time with offset. So `beforeDate: 2024-04-01,
            afterDate: 2024-04-08` selects the seven days from 1 April 00:00 UTC up
            to, not including, 8 April.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | QueryPage
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            page=page,
            page_size=page_size,
        )
    ).parsed
