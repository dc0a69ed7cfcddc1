from genomcore_sdk.client import GenomcoreApiClient
api = GenomcoreApiClient(token="A_VALID_TOKEN", refresh_token="A_VALID_REFRESH_TOKEN")
body = {
'userId': 1,
'batch': "TestBatch",
'metric': "TestMetric"
}
api.time_series.delete_time_series(body = body)
