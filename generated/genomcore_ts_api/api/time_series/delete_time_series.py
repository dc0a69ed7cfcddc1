from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.delete_request import DeleteRequest
from ...models.delete_result import DeleteResult
from ...models.error import Error
from ...types import Response


def _get_kwargs(
    *,
    body: DeleteRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "delete",
        "url": "/v1/time-series",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> DeleteResult | Error | None:
    if response.status_code == 200:
        response_200 = DeleteResult.from_dict(response.json())

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
) -> Response[DeleteResult | Error]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: DeleteRequest,
) -> Response[DeleteResult | Error]:
    """Delete observations of one user, batch and metric

     Deletes every observation whose `meta.userId`, `meta.batch` and
    `meta.metric` equal the given values. These three fields are the only
    ones accepted. A large deletion can take long: a client whose
    connection closes before the answer should query to verify.

    Args:
        body (DeleteRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeleteResult | Error]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: DeleteRequest,
) -> DeleteResult | Error | None:
    """Delete observations of one user, batch and metric

     Deletes every observation whose `meta.userId`, `meta.batch` and
    `meta.metric` equal the given values. These three fields are the only
    ones accepted. A large deletion can take long: a client whose
    connection closes before the answer should query to verify.

    Args:
        body (DeleteRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeleteResult | Error
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: DeleteRequest,
) -> Response[DeleteResult | Error]:
    """Delete observations of one user, batch and metric

     Deletes every observation whose `meta.userId`, `meta.batch` and
    `meta.metric` equal the given values. These three fields are the only
    ones accepted. A large deletion can take long: a client whose
    connection closes before the answer should query to verify.

    Args:
        body (DeleteRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DeleteResult | Error]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: DeleteRequest,
) -> DeleteResult | Error | None:
    """Delete observations of one user, batch and metric

     Deletes every observation whose `meta.userId`, `meta.batch` and
    `meta.metric` equal the given values. These three fields are the only
    ones accepted. A large deletion can take long: a client whose
    connection closes before the answer should query to verify.

    Args:
        body (DeleteRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DeleteResult | Error
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
