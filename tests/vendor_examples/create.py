import csv
import logging
import os
from dotenv import load_dotenv
from genomcore_sdk.client import GenomcoreApiClient
load_dotenv(override=True)
logging.basicConfig(
level="INFO",
format="[%(asctime)s][%(levelname)s][%(name)s] -- %(message)s",
datefmt="%Y-%m-%d %H:%M:%S",
)
with open(input_csv) as csv_file:
    csv_reader = csv.DictReader(csv_file)
    data_list = []
    for row in csv_reader:
        data_list.append({
            'meta': {
                'userId': int(row['meta.userId']),
                'source': row['meta.source'],
                'metric': row['meta.metric'],
                'externalId': row['meta.externalId'],
                'batch': row['meta.batch'],
            },
            'point': {
                'start': row['point.start'],
                'end': row['point.end'],
                'value': int(row['point.value']),
            }
        })
api = GenomcoreApiClient(
token=os.getenv("TOKEN"),
refresh_token=os.getenv("REFRESH_TOKEN")
)
responses = api.time_series.create_time_series(
body=data_list,
chunksize=300,
max_retries=3
)
