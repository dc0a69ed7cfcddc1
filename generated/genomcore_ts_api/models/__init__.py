"""Contains all the data models used in inputs/outputs"""

from .create_result import CreateResult
from .delete_request import DeleteRequest
from .delete_result import DeleteResult
from .error import Error
from .error_detail import ErrorDetail
from .observation import Observation
from .observation_meta import ObservationMeta
from .observation_point import ObservationPoint
from .query_filter import QueryFilter
from .query_page import QueryPage
from .query_request import QueryRequest
from .query_sort import QuerySort
from .query_sort_additional_property import QuerySortAdditionalProperty
from .refresh_request import RefreshRequest
from .stored_observation import StoredObservation
from .token_pair import TokenPair

__all__ = (
    "CreateResult",
    "DeleteRequest",
    "DeleteResult",
    "Error",
    "ErrorDetail",
    "Observation",
    "ObservationMeta",
    "ObservationPoint",
    "QueryFilter",
    "QueryPage",
    "QueryRequest",
    "QuerySort",
    "QuerySortAdditionalProperty",
    "RefreshRequest",
    "StoredObservation",
    "TokenPair",
)
