"""Where the compaction reads and writes: the bucket (boto3: the Lambda, `voice-analytics compact --bucket`) or a
folder laid out like it (`build/demo`, the tests, the benchmark). Keys are the bucket's keys either way.

DuckDB only ever sees local files: its S3 support (the httpfs extension) is not bundled with the wheel and would be
downloaded at run time, which a Lambda without internet access or a test against moto cannot do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# DeleteObjects takes at most 1,000 keys a request.
_DELETE_BATCH = 1000


class ObjectStore(Protocol):
    """The few operations the compaction needs, with S3's semantics (list by prefix, whole-object put)."""

    def list_keys(self, prefix: str) -> dict[str, str]:
        """Every key under `prefix` -> its ETag (without quotes)."""

    def get_many(self, keys: list[str]) -> list[bytes]:
        """The bodies of `keys`, in the same order (fetched concurrently where that helps)."""

    def put_file(self, key: str, path: Path) -> None: ...

    def put_bytes(self, key: str, body: bytes) -> None: ...

    def delete(self, keys: Iterable[str]) -> None: ...


class S3Store:
    """A bucket. `threads` GETs at once: a day is 100,000 small objects at 100,000 sessions a day, and one at a time
    (tens of ms each) would take most of an hour; the client's connection pool must allow as many."""

    def __init__(self, client: S3Client, bucket: str, threads: int = 32) -> None:
        self.client = client
        self.bucket = bucket
        self.threads = threads

    def list_keys(self, prefix: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found[item["Key"]] = item.get("ETag", "").strip('"')
        return found

    def _get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def get_many(self, keys: list[str]) -> list[bytes]:
        if len(keys) <= 1:
            return [self._get(key) for key in keys]
        with ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="compact-get") as pool:
            return list(pool.map(self._get, keys))

    def put_file(self, key: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, key)

    def put_bytes(self, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body)

    def delete(self, keys: Iterable[str]) -> None:
        pending = sorted(keys)
        for start in range(0, len(pending), _DELETE_BATCH):
            batch = pending[start : start + _DELETE_BATCH]
            response = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True}
            )
            if response.get("Errors"):
                failed = ", ".join(f"{error['Key']} ({error['Code']})" for error in response["Errors"][:5])
                raise OSError(f"S3 refused to remove objects of s3://{self.bucket}: {failed}")


class DirectoryStore:
    """A folder laid out like the bucket. ETags are MD5 digests of the content, as S3's are for single-part puts."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"key {key!r} leaves the folder {self.root}")
        return path

    def list_keys(self, prefix: str) -> dict[str, str]:
        # The folder of the prefix's last complete segment, then the prefix itself as a filter (S3's semantics).
        folder = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not folder.is_dir():
            return {}
        found: dict[str, str] = {}
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    found[key] = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
        return found

    def get_many(self, keys: list[str]) -> list[bytes]:
        return [self._path(key).read_bytes() for key in keys]

    def put_file(self, key: str, path: Path) -> None:
        self.put_bytes(key, path.read_bytes())

    def put_bytes(self, key: str, body: bytes) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(body)
        partial.replace(target)  # whole or not at all, as an S3 put

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)
