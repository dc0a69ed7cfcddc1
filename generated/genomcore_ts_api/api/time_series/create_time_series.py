from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.create_result import CreateResult
from ...models.error import Error
from ...models.observation import Observation
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: list[Observation],
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/time-series",
    }

    _kwargs["json"] = []
    for body_item_data in body:
        body_item = body_item_data.to_dict()
        _kwargs["json"].append(body_item)

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> CreateResult | Error | None:
    if response.status_code == 201:
        response_201 = CreateResult.from_dict(response.json())

        return response_201

    if response.status_code == 400:
        response_400 = Error.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Error.from_dict(response.json())

        return response_401

    if response.status_code == 413:
        response_413 = Error.from_dict(response.json())

        return response_413

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
) -> Response[CreateResult | Error]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: list[Observation],
    idempotency_key: str | Unset = UNSET,
) -> Response[CreateResult | Error]:
    """Store observations

     Stores every observation of the array, or none of them: a request with
    any invalid observation answers 422 and stores nothing. At most 5000
    observations per request (more answers 413), body at most 16 MiB (413).

    When `Idempotency-Key` is given, the server remembers the answer for 24
    hours: the same key sent again (a retry) stores nothing new and answers
    the original result with `Idempotent-Replayed: true`.

    Args:
        idempotency_key (str | Unset):
        body (list[Observation]):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CreateResult | Error]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: list[Observation],
    idempotency_key: str | Unset = UNSET,
) -> CreateResult | Error | None:
    """Store observations

     Stores every observation of the array, or none of them: a request with
    any invalid observation answers 422 and stores nothing. At most 5000
    observations per request (more answers 413), body at most 16 MiB (413).

    When `Idempotency-Key` is given, the server remembers the answer for 24
    hours: the same key sent again (a retry) stores nothing new and answers
    the original result with `Idempotent-Replayed: true`.

    Args:
        idempotency_key (str | Unset):
        body (list[Observation]):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CreateResult | Error
    """

    return sync_detailed(
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: list[Observation],
    idempotency_key: str | Unset = UNSET,
) -> Response[CreateResult | Error]:
    """Store observations

     Stores every observation of the array, or none of them: a request with
    any invalid observation answers 422 and stores nothing. At most 5000
    observations per request (more answers 413), body at most 16 MiB (413).

    When `Idempotency-Key` is given, the server remembers the answer for 24
    hours: the same key sent again (a retry) stores nothing new and answers
    the original result with `Idempotent-Replayed: true`.

    Args:
        idempotency_key (str | Unset):
        body (list[Observation]):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CreateResult | Error]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: list[Observation],
    idempotency_key: str | Unset = UNSET,
) -> CreateResult | Error | None:
    """Store observations

     Stores every observation of the array, or none of them: a request with
    any invalid observation answers 422 and stores nothing. At most 5000
    observations per request (more answers 413), body at most 16 MiB (413).

    When `Idempotency-Key` is given, the server remembers the answer for 24
    hours: the same key sent again (a retry) stores nothing new and answers
    the original result with `Idempotent-Replayed: true`.

    Args:
        idempotency_key (str | Unset):
        body (list[Observation]):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CreateResult | Error
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed
