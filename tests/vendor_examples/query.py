from genomcore_sdk.client import GenomcoreApiClient
api = GenomcoreApiClient(token="A_VALID_TOKEN", refresh_token="A_VALID_REFRESH_TOKEN")
body = {
"filter": {
"meta.userId": {"$in": [1]},
"meta.batch": {"$in": ["TestBatch"]}
},
"sort": {
"timestamp": -1
},
"beforeDate": "2024-04-01",
"afterDate": "2024-04-08"
}
api.time_series.query_time_series(page = 0, pageSize = 500, body = body)
