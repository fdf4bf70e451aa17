"""How fast S3Source reads many small song files, by thread count, and what it costs in memory.

Runs against moto's server on loopback (no AWS account); prints one line per thread count:

    python benchmarks/s3_songs.py --files 5000 --latency-ms 20

Loopback has no network latency, which is what threads hide on real S3; ``--latency-ms`` adds a
fixed delay to every GET (as a botocore event hook) to stand in for it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import time

import boto3
from moto.server import ThreadedMotoServer

from sparkify_assets.ingest.s3 import S3Source


def upload(client, files: int) -> None:
    client.create_bucket(Bucket="bench")
    for n in range(files):
        song = {
            "song_id": f"SO{n:08d}",
            "artist_id": f"AR{n % 997:06d}",
            "title": f"Song {n}",
            "artist_name": f"Artist {n % 997}",
            "duration": 180.0 + n % 60,
            "year": 0,
            "num_songs": 1,
            "artist_latitude": None,
            "artist_longitude": None,
            "artist_location": "",
        }
        key = f"raw/song_data/{chr(65 + n % 26)}/{n % 7}/TR{n:08d}.json"
        client.put_object(Bucket="bench", Key=key, Body=json.dumps(song).encode())


def read_all(workers: int, latency: float) -> tuple[int, int, float]:
    source = S3Source.from_uri("s3://bench/raw")
    source.workers = workers
    if latency:
        source._client.meta.events.register(
            "before-send.s3.GetObject", lambda **kwargs: time.sleep(latency)
        )
    started = time.perf_counter()
    count = size = 0
    for _, content in source.read_all(source.song_files()):
        count += 1
        size += len(content)
    return count, size, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 16, 32])
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
    )
    try:
        upload(boto3.client("s3"), args.files)
        print(f"{args.files} song files, {args.latency_ms:g} ms added per GET")
        for workers in args.workers:
            count, size, seconds = read_all(workers, args.latency_ms / 1000)
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"  workers={workers:>3}  files={count}  bytes={size:,}  "
                f"{seconds:7.2f} s  {count / seconds:8.0f} files/s  peak RSS {peak_mb:.0f} MB"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
