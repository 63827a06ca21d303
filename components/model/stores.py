"""The few bucket operations the uploader needs, and Amazon S3's (boto3); OSS's are in :mod:`.oss`.

Both stores expose the same small surface: small objects, listing, HEAD, batch delete, a
single-request file upload, and the five multipart calls (create, upload part, list parts,
complete, abort) plus a listing of incomplete uploads.  The multipart *logic* -- part sizes,
resuming from the parts the service already has, parallelism, Ctrl-C -- is written once, in
:mod:`components.model.transfer`, on top of these calls.

Every request goes over HTTPS: an endpoint given without a scheme gets ``https://`` (oss2 would
otherwise use plain http, which the project's bucket policies deny), and ``http://`` is refused
unless ``allow_http`` is set (local test servers only).  Service errors become
:mod:`components.model.errors` classes whose message names the bucket and the key.
"""
from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from components.model.errors import (
    BucketAccessError,
    BucketConfigError,
    BucketNotFoundError,
    BucketNotWritableError,
    InvalidArgumentError,
)

DELETE_BATCH = 1000  # the per-request maximum of both S3 DeleteObjects and OSS DeleteMultipleObjects
_NOT_FOUND_CODES = frozenset({"NoSuchBucket"})
_DENIED_CODES = frozenset({"403", "AccessDenied", "AllAccessDisabled", "ExpiredToken", "InvalidAccessKeyId",
                           "InvalidToken", "SignatureDoesNotMatch", "InvalidObjectState"})


@dataclasses.dataclass(frozen=True)
class ObjectInfo:
    """Size, user metadata (names without the x-amz-meta-/x-oss-meta- prefix), modification time."""

    size: int
    metadata: Mapping[str, str] = dataclasses.field(default_factory=dict)
    modified: float = 0.0


@dataclasses.dataclass(frozen=True)
class Part:
    """A part the service holds: ``etag`` (the part's MD5 on S3 without KMS and on OSS) and, when the
    service returned one, an S3 ``ChecksumCRC32`` (base64) or an OSS CRC-64."""

    number: int
    size: int
    etag: str
    crc32: str | None = None
    crc64: int | None = None


@dataclasses.dataclass(frozen=True)
class Upload:
    key: str
    upload_id: str


class ObjectStore(Protocol):
    scheme: str
    bucket: str

    def url(self, key: str) -> str: ...
    def get_bytes(self, key: str) -> bytes | None: ...
    def put_bytes(self, key: str, data: bytes, content_type: str) -> None: ...
    def list(self, prefix: str) -> dict[str, ObjectInfo]: ...
    def head(self, key: str) -> ObjectInfo | None: ...
    def delete(self, keys: Sequence[str]) -> None: ...
    def put_file(self, path: str, key: str, metadata: Mapping[str, str]) -> None: ...
    def create_upload(self, key: str, metadata: Mapping[str, str]) -> str: ...
    def upload_part(self, key: str, upload_id: str, number: int, path: str, offset: int, size: int) -> Part: ...
    def list_parts(self, key: str, upload_id: str) -> list[Part]: ...
    def complete_upload(self, key: str, upload_id: str, parts: Sequence[Part]) -> None: ...
    def abort_upload(self, key: str, upload_id: str) -> None: ...
    def list_uploads(self, prefix: str) -> list[Upload]: ...
    def close(self) -> None: ...


def https_endpoint(endpoint: str, *, allow_http: bool = False, flag: str = "--endpoint") -> str:
    """``host`` -> ``https://host``; ``https://`` kept; ``http://`` refused unless ``allow_http``."""
    scheme, sep, rest = endpoint.partition("://")
    if not sep:
        return "https://" + endpoint
    if scheme.lower() == "https" and rest:
        return endpoint
    if scheme.lower() == "http" and rest and allow_http:
        return endpoint
    raise InvalidArgumentError(
        f"{flag} {endpoint!r}: use https:// (or a host name, which means https); plain http:// is refused "
        "because the bucket policy denies it (--allow-http is for local test servers)"
    )


def parse_store_url(url: str) -> tuple[str, str, str]:
    """``"s3://bucket/a/b/"`` -> ``("s3", "bucket", "a/b")``."""
    match = re.fullmatch(r"(s3|oss)://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/?(.*)", url)
    if not match:
        raise InvalidArgumentError(f"bucket URL {url!r} must look like s3://bucket/prefix or oss://bucket/prefix")
    scheme, bucket, prefix = match.groups()
    return scheme, bucket, prefix.strip("/")


def _access_error(url: str, action: str, code: str, message: str, writing: bool) -> BucketAccessError:
    bucket = "/".join(url.split("/", 3)[:3])  # "s3://bucket/key" -> "s3://bucket"
    if code in _NOT_FOUND_CODES:
        return BucketNotFoundError(f"bucket {bucket} does not exist ({action} {url})")
    if code in _DENIED_CODES:
        if writing:
            return BucketNotWritableError(
                f"bucket {bucket} is not writable with the current credentials ({code} when trying to {action} {url})")
        return BucketConfigError(f"access to {url} denied ({code}: {message}); check the credentials and the "
                                 "bucket policy")
    return BucketAccessError(f"cannot {action} {url}: {code} {message}")


def _batches(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Store:
    scheme: str
    bucket: str

    def url(self, key: str) -> str:
        return f"{self.scheme}://{self.bucket}/{key}"

    def close(self) -> None:
        """Nothing to release by default."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class S3Store(_Store):
    """Amazon S3 or an S3-compatible endpoint through boto3.  Multipart uploads carry CRC32 part
    checksums, so a later run can check each listed part against the local bytes (on SSE-KMS
    buckets a part's ETag is not its MD5, its checksum still is what was sent)."""

    scheme = "s3"

    def __init__(self, bucket: str, *, region: str | None = None, endpoint: str | None = None,
                 allow_http: bool = False, concurrency: int = 8, client: Any = None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        endpoint_url = https_endpoint(endpoint, allow_http=allow_http) if endpoint else None
        # The pool is sized for the transfer threads plus the sync's own small requests.
        self._client = client or boto3.client(
            "s3", region_name=region, endpoint_url=endpoint_url,
            config=Config(max_pool_connections=2 * concurrency, retries={"mode": "standard", "max_attempts": 5}))

    @contextlib.contextmanager
    def _errors(self, action: str, key: str, writing: bool = False) -> Iterator[None]:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

        try:
            yield
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise BucketConfigError(
                f"cannot {action} {self.url(key)}: no usable AWS credentials ({exc}); set AWS_PROFILE or "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run with a role") from exc
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise _access_error(self.url(key), action, str(error.get("Code", "")), str(error.get("Message", "")),
                                writing) from exc
        except BotoCoreError as exc:  # connection failures after botocore's own retries
            raise BucketAccessError(f"cannot {action} {self.url(key)}: {exc}") from exc

    def _missing(self, exc: Exception) -> bool:
        return getattr(exc, "response", {}).get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")

    def get_bytes(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        with self._errors("read", key):
            try:
                return self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            except ClientError as exc:
                if self._missing(exc):
                    return None
                raise

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        with self._errors("write", key, writing=True):
            self._client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def list(self, prefix: str) -> dict[str, ObjectInfo]:
        objects: dict[str, ObjectInfo] = {}
        with self._errors("list", prefix):
            for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", ()):
                    objects[item["Key"]] = ObjectInfo(int(item["Size"]), {}, item["LastModified"].timestamp())
        return objects

    def head(self, key: str) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        with self._errors("read", key):
            try:
                response = self._client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if self._missing(exc):
                    return None
                raise
        return ObjectInfo(int(response["ContentLength"]), dict(response.get("Metadata", {})),
                          response["LastModified"].timestamp())

    def delete(self, keys: Sequence[str]) -> None:
        for batch in _batches(keys, DELETE_BATCH):
            with self._errors("delete", batch[0], writing=True):
                response = self._client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True})
            for error in response.get("Errors") or []:
                raise _access_error(self.url(error.get("Key", "")), "delete", error.get("Code", ""),
                                    error.get("Message", ""), True)

    def put_file(self, path: str, key: str, metadata: Mapping[str, str]) -> None:
        with self._errors("write", key, writing=True), open(path, "rb") as body:
            self._client.put_object(Bucket=self.bucket, Key=key, Body=body, Metadata=dict(metadata),
                                    ChecksumAlgorithm="CRC32")

    def create_upload(self, key: str, metadata: Mapping[str, str]) -> str:
        with self._errors("write", key, writing=True):
            return self._client.create_multipart_upload(Bucket=self.bucket, Key=key, Metadata=dict(metadata),
                                                        ChecksumAlgorithm="CRC32")["UploadId"]

    def upload_part(self, key: str, upload_id: str, number: int, path: str, offset: int, size: int) -> Part:
        from s3transfer.utils import ReadFileChunk  # streams the range from disk, seekable for retries

        with self._errors("write", key, writing=True), ReadFileChunk.from_filename(
                path, offset, size, enable_callbacks=False) as body:
            response = self._client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number,
                                                Body=body, ChecksumAlgorithm="CRC32")
        return Part(number, size, response["ETag"].strip('"'), response.get("ChecksumCRC32"))

    def list_parts(self, key: str, upload_id: str) -> list[Part]:
        parts: list[Part] = []
        with self._errors("list parts of", key):
            pages = self._client.get_paginator("list_parts").paginate(Bucket=self.bucket, Key=key, UploadId=upload_id)
            for page in pages:
                parts += [Part(int(p["PartNumber"]), int(p["Size"]), p["ETag"].strip('"'), p.get("ChecksumCRC32"))
                          for p in page.get("Parts", ())]
        return parts

    def complete_upload(self, key: str, upload_id: str, parts: Sequence[Part]) -> None:
        listed = [{"PartNumber": p.number, "ETag": p.etag, **({"ChecksumCRC32": p.crc32} if p.crc32 else {})}
                  for p in sorted(parts, key=lambda p: p.number)]
        with self._errors("write", key, writing=True):
            self._client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                   MultipartUpload={"Parts": listed})

    def abort_upload(self, key: str, upload_id: str) -> None:
        with self._errors("abort an upload of", key, writing=True):
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def list_uploads(self, prefix: str) -> list[Upload]:
        with self._errors("list incomplete uploads under", prefix):
            pages = self._client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=prefix)
            return [Upload(u["Key"], u["UploadId"]) for page in pages for u in page.get("Uploads", ())]


def store_for_url(url: str, *, region: str | None = None, endpoint: str | None = None, allow_http: bool = False,
                  concurrency: int = 8) -> tuple[ObjectStore, str]:
    """The store for ``s3://bucket/prefix`` or ``oss://bucket/prefix``, and the prefix."""
    scheme, bucket, prefix = parse_store_url(url)
    if scheme == "s3":
        return S3Store(bucket, region=region, endpoint=endpoint, allow_http=allow_http, concurrency=concurrency), prefix
    from components.model.oss import OssStore  # oss2 is only needed for oss:// URLs

    return OssStore(bucket, region=region, endpoint=endpoint, allow_http=allow_http), prefix
