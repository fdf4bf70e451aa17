"""The raw JSON in S3 (or any S3 API: MinIO, moto): ``SPARKIFY_DATA_URI=s3://bucket/prefix``.

It hands out exactly what ``LocalSource`` does for the same files (keys relative to the prefix,
the same line splitting), so a load from S3 gives the same tables and the same rejects as a load
from a folder. Nothing is held whole in memory: listings are paged lazily, a day file streams in
chunks, and song files are fetched by a bounded number of threads with a bounded window of
requests in flight, in listing order.

The client is plain boto3 rather than dagster-aws's ``S3Resource``: S3Resource cannot size the
connection pool (botocore's default of 10 would throttle and warn with 16 fetching threads) nor
choose the retry mode. Everything else comes from the standard AWS chain: credentials,
region, and ``AWS_ENDPOINT_URL`` for MinIO or moto.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from sparkify_assets.contract.layout import day_of
from sparkify_assets.core import settings
from sparkify_assets.core.faults import is_transient
from sparkify_assets.ingest.base import SourceError, SourceFile, TransientSourceError
from sparkify_assets.ingest.s3_uri import validate_s3_uri

LINE_CHUNK_BYTES = 1 << 16
IN_FLIGHT_PER_WORKER = 4  # requests queued per thread: keeps threads busy, memory bounded

# What S3's error codes mean to someone who typed SPARKIFY_DATA_URI.
_ERROR_HINTS = {
    "NoSuchBucket": "the bucket does not exist",
    "AccessDenied": "access denied (check the AWS credentials and the bucket policy)",
    "AllAccessDisabled": "access to the bucket is disabled",
    "InvalidAccessKeyId": "the AWS access key was rejected (check the AWS credentials)",
    "SignatureDoesNotMatch": "the AWS secret key was rejected (check the AWS credentials)",
    "ExpiredToken": "the AWS session token has expired",
    "InvalidToken": "the AWS session token was rejected",
    "NoSuchKey": "the object disappeared while reading",
    "403": "access denied (check the AWS credentials and the bucket policy)",
    "404": "not found",
}


def s3_client(workers: int):
    """A thread-safe S3 client with a pool as large as the fetching threads and retries for
    throttling (SlowDown, 503) and dropped connections."""
    options = {
        "retries": {"mode": settings.s3_retry_mode(), "max_attempts": settings.s3_max_attempts()},
        "max_pool_connections": workers,
        "connect_timeout": 10,
        "read_timeout": 60,
    }
    if settings.s3_unsigned():
        options["signature_version"] = UNSIGNED
    # A session per client: boto3 sessions are not thread-safe, clients are.
    return boto3.session.Session().client("s3", config=Config(**options))


def _source_error(err: Exception, message: str) -> SourceError:
    return (TransientSourceError if is_transient(err) else SourceError)(message)


class S3Source:
    def __init__(self, bucket: str, prefix: str = "", client=None, workers: int | None = None):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.workers = workers or settings.s3_workers()
        self._client = client or s3_client(self.workers)

    @classmethod
    def from_uri(cls, uri: str) -> S3Source:
        """Open ``s3://bucket/prefix`` and make sure it is reachable and not empty."""
        # The URI ends up in Redshift's COPY: hold it to what S3 itself allows first.
        location = validate_s3_uri(uri)
        source = cls(location.bucket, location.prefix)
        source.check_reachable()
        return source

    # --- keys -------------------------------------------------------------------------------
    def _key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def _relative(self, key: str) -> str:
        return key[len(self.prefix) + 1 :] if self.prefix else key

    # --- errors -----------------------------------------------------------------------------
    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Turn botocore's exceptions into one line naming the URI (never the credentials).

        Throttling, 5xx answers and dropped connections that outlast botocore's own retries are
        TransientSourceErrors (the step may be retried); the rest fail the step at once.
        """
        try:
            yield
        except ClientError as err:
            error = err.response.get("Error", {})
            code = str(error.get("Code", ""))
            hint = _ERROR_HINTS.get(code) or f"{code} {error.get('Message', '')}".strip()
            raise _source_error(err, f"{self.uri}: {hint} (reading {what})") from None
        except NoCredentialsError:
            raise SourceError(
                f"{self.uri}: no AWS credentials found (environment, ~/.aws or instance role; "
                "SPARKIFY_S3_UNSIGNED=1 reads a public bucket without them)"
            ) from None
        except BotoCoreError as err:
            raise _source_error(err, f"{self.uri}: {err} (reading {what})") from None

    def check_reachable(self) -> None:
        root = self._key("")
        with self._errors("the bucket listing"):
            page = self._client.list_objects_v2(Bucket=self.bucket, Prefix=root, MaxKeys=1)
        if not page.get("KeyCount"):
            raise SourceError(f"{self.uri}: no objects under this prefix (is the URI right?)")

    # --- listing ----------------------------------------------------------------------------
    def _objects(self, folder: str) -> Iterator[SourceFile]:
        """The ``*.json`` objects under ``folder/``, one listing page at a time."""
        found = False
        with self._errors(f"{folder}/"):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key(folder) + "/"
            )
            for page in pages:
                for entry in page.get("Contents", ()):
                    found = True
                    if entry["Key"].endswith(".json"):
                        yield SourceFile(
                            self._relative(entry["Key"]), entry["Size"], entry["ETag"].strip('"')
                        )
        if not found:
            raise SourceError(f"{self.uri} has no {folder}/ objects")

    def event_files(self) -> dict[date, list[SourceFile]]:
        days: dict[date, list[SourceFile]] = {}
        for file in self._objects("log_data"):
            day = day_of(file.key.rsplit("/", 1)[-1])
            if day is not None:
                days.setdefault(day, []).append(file)
        return days

    def song_files(self) -> Iterator[SourceFile]:
        return self._objects("song_data")

    # --- reading ----------------------------------------------------------------------------
    def lines(self, file: SourceFile) -> Iterator[bytes]:
        """The object's lines, split on b"\\n" only and ending with it, as a file iterates.

        botocore's ``iter_lines`` would also split on a lone b"\\r"; a folder load does not.
        """
        with self._errors(file.key):
            body = self._client.get_object(Bucket=self.bucket, Key=self._key(file.key))["Body"]
            try:
                partial: list[bytes] = []
                for chunk in body.iter_chunks(LINE_CHUNK_BYTES):
                    if b"\n" not in chunk:
                        partial.append(chunk)  # a long line: join once, not per chunk
                        continue
                    *complete, rest = b"".join([*partial, chunk]).split(b"\n")
                    for line in complete:
                        yield line + b"\n"
                    partial = [rest] if rest else []
                if partial:
                    yield b"".join(partial)
            finally:
                body.close()

    def head(self, file: SourceFile, size: int) -> bytes:
        """The first ``size`` bytes in one ranged GET (the whole object when it is smaller)."""
        with self._errors(file.key):
            response = self._client.get_object(
                Bucket=self.bucket, Key=self._key(file.key), Range=f"bytes=0-{size - 1}"
            )
            return response["Body"].read()

    def _read(self, file: SourceFile) -> bytes:
        with self._errors(file.key):
            response = self._client.get_object(Bucket=self.bucket, Key=self._key(file.key))
            return response["Body"].read()

    def read_all(self, files: Iterator[SourceFile]) -> Iterator[tuple[SourceFile, bytes]]:
        """Each file with its content, in the order given, fetched by ``workers`` threads.

        At most ``workers * IN_FLIGHT_PER_WORKER`` objects are requested or held at once, so
        memory stays flat however many files the listing yields.
        """
        window: deque[tuple[SourceFile, Future]] = deque()
        limit = self.workers * IN_FLIGHT_PER_WORKER
        with ThreadPoolExecutor(self.workers, thread_name_prefix="sparkify-s3") as pool:
            try:
                for file in files:
                    window.append((file, pool.submit(self._read, file)))
                    if len(window) >= limit:
                        done, future = window.popleft()
                        yield done, future.result()
                while window:
                    done, future = window.popleft()
                    yield done, future.result()
            finally:
                # The consumer stopped early (or a read failed): drop what has not started.
                for _, future in window:
                    future.cancel()
