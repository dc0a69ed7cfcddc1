from typing import Literal

QuerySortAdditionalProperty = Literal[-1, 1]

QUERY_SORT_ADDITIONAL_PROPERTY_VALUES: set[QuerySortAdditionalProperty] = {
    -1,
    1,
}


def check_query_sort_additional_property(value: int) -> QuerySortAdditionalProperty:
    if value in QUERY_SORT_ADDITIONAL_PROPERTY_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {QUERY_SORT_ADDITIONAL_PROPERTY_VALUES!r}"
    )
