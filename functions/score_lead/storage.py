"""S3 reads and writes of score_lead: the session object, the scored record, the quarantine copy."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from functions.common.events import S3Location
from functions.common.sanitise import metadata_value
from functions.score_lead.reader import RejectedObjectError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import GetObjectOutputTypeDef

NDJSON_CONTENT_TYPE = "application/x-ndjson"


class ObjectMissingError(Exception):
    """The object named by the event no longer exists (deleted before we read it)."""


@dataclass(frozen=True)
class FetchedObject:
    location: S3Location
    data: bytes


def _get(s3: S3Client, location: S3Location) -> GetObjectOutputTypeDef:
    arguments: dict[str, Any] = {"Bucket": location.bucket, "Key": location.key}
    if location.version_id and location.version_id != "null":
        arguments["VersionId"] = location.version_id
    return s3.get_object(**arguments)


_NOT_FOUND = frozenset({"NoSuchKey", "NoSuchVersion", "404"})
# score_lead's role has no s3:ListBucket (least privilege, see template.yaml), so S3 answers a key that does not
# exist with 403 AccessDenied instead of 404: a URL-encoded key is retried decoded on either answer.
_NOT_FOUND_OR_DENIED = _NOT_FOUND | {"AccessDenied", "403"}


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def fetch_object(s3: S3Client, location: S3Location, max_bytes: int) -> FetchedObject:
    """Read at most `max_bytes` of the object; a bigger object is rejected without reading it."""
    try:
        response = _get(s3, location)
    except ClientError as error:
        code = _error_code(error)
        # S3 URL-encodes special characters of keys in some notifications ("=" as "%3D"): try the decoded key.
        decoded = unquote_plus(location.key)
        if code not in _NOT_FOUND_OR_DENIED or decoded == location.key:
            if code in _NOT_FOUND:
                raise ObjectMissingError(f"{location.uri} does not exist") from error
            raise  # AccessDenied for the key as named: a missing permission, or a deleted object; retried
        location = location.model_copy(update={"key": decoded})
        try:
            response = _get(s3, location)
        except ClientError as second_error:
            if code in _NOT_FOUND or _error_code(second_error) in _NOT_FOUND:
                raise ObjectMissingError(f"{location.uri} does not exist") from second_error
            raise
    body = response["Body"]
    try:
        if response["ContentLength"] > max_bytes:
            raise RejectedObjectError(
                f"object is {response['ContentLength']} bytes, over the {max_bytes}-byte limit (MAX_RECORD_BYTES)"
            )
        data = body.read(max_bytes + 1)
    finally:
        body.close()
    if len(data) > max_bytes:
        raise RejectedObjectError(f"object is over the {max_bytes}-byte limit (MAX_RECORD_BYTES)")
    return FetchedObject(location=location, data=data)


def gzip_ndjson(document: dict[str, Any]) -> bytes:
    """One JSON object as one gzip-compressed NDJSON line (mtime 0, so equal input gives equal bytes)."""
    line = json.dumps(document, separators=(",", ":"), ensure_ascii=False) + "\n"
    return gzip.compress(line.encode("utf-8"), mtime=0)


def write_scored(s3: S3Client, location: S3Location, document: dict[str, Any]) -> None:
    s3.put_object(Bucket=location.bucket, Key=location.key, Body=gzip_ndjson(document), ContentType=NDJSON_CONTENT_TYPE)


def quarantine_object(s3: S3Client, source: S3Location, reason: str, prefix: str) -> S3Location:
    """Copy the object to `<prefix>/<original key>` with the reason in its metadata and in a `.reason.json` sidecar."""
    target = S3Location(bucket=source.bucket, key=f"{prefix.rstrip('/')}/{source.key}")
    copy_source: dict[str, str] = {"Bucket": source.bucket, "Key": source.key}
    if source.version_id and source.version_id != "null":
        copy_source["VersionId"] = source.version_id
    quarantined_at = datetime.now(UTC).isoformat()
    s3.copy_object(
        Bucket=target.bucket,
        Key=target.key,
        CopySource=copy_source,  # type: ignore[arg-type]
        MetadataDirective="REPLACE",
        Metadata={
            "quarantine-reason": metadata_value(reason, limit=1024),
            "source-key": metadata_value(source.key, limit=512),
            "quarantined-at": quarantined_at,
        },
    )
    sidecar = {
        "reason": reason,
        "source": source.model_dump(mode="json"),
        "source_uri": source.uri,
        "quarantined_at": quarantined_at,
        "next_step": "fix the producer or the object, then copy it back under sessions/ to reprocess",
    }
    s3.put_object(
        Bucket=target.bucket,
        Key=f"{target.key}.reason.json",
        Body=json.dumps(sidecar, indent=2).encode("utf-8"),
        ContentType="application/json",
    )
    return target
