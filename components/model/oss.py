"""Alibaba Cloud OSS through oss2: the :class:`~components.model.stores.ObjectStore` calls, signed with V4,
every request over HTTPS and CRC-64 checked, with credentials from ``alibabacloud_credentials``."""
from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from components.model.errors import BucketAccessError, BucketConfigError, InvalidArgumentError
from components.model.stores import (
    DELETE_BATCH,
    ObjectInfo,
    Part,
    Upload,
    _access_error,
    _batches,
    _Store,
    https_endpoint,
)

_OSS_ENDPOINT_REGION = re.compile(r"oss-([a-z0-9-]+?)(?:-internal)?\.aliyuncs\.com")
# pulumi-alicloud's and oss2's names for static keys; alibabacloud_credentials' chain reads ALIBABA_CLOUD_*.
_OSS_STATIC_ENV = (("ALICLOUD_ACCESS_KEY", "ALICLOUD_SECRET_KEY", "ALICLOUD_SECURITY_TOKEN"),
                   ("OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET", "OSS_SESSION_TOKEN"))


class AlibabaCredentials:
    """oss2 credentials provider over ``alibabacloud_credentials``' default chain (env AK, RRSA/OIDC,
    the aliyun CLI profile, the credentials file, the ECS RAM role, a credentials URI), which also
    caches and refreshes STS tokens.  pulumi-alicloud's and oss2's env names are read first."""

    def __init__(self, chain: Any = None) -> None:
        for id_var, secret_var, token_var in _OSS_STATIC_ENV:
            if os.environ.get(id_var) and os.environ.get(secret_var):
                self._static = (os.environ[id_var], os.environ[secret_var], os.environ.get(token_var) or None)
                return
        self._static = None
        if chain is None:
            from alibabacloud_credentials.provider import DefaultCredentialsProvider

            chain = DefaultCredentialsProvider()
        self._chain = chain

    def get_credentials(self) -> Any:
        from oss2.credentials import Credentials

        if self._static:
            return Credentials(*self._static)
        try:
            found = self._chain.get_credentials()
        except Exception as exc:  # the chain raises CredentialException listing what it tried
            raise BucketConfigError(
                "no Alibaba Cloud credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID/ALIBABA_CLOUD_ACCESS_KEY_SECRET (or "
                f"ALICLOUD_ACCESS_KEY/ALICLOUD_SECRET_KEY), configure the aliyun CLI, or run with RRSA ({exc})") from exc
        return Credentials(found.get_access_key_id(), found.get_access_key_secret(), found.get_security_token())


class OssStore(_Store):
    """Alibaba Cloud OSS through oss2, signed with V4, every request over HTTPS, CRC-64 checked
    (needs crcmod's C extension to be fast; the ingest image checks it at start)."""

    scheme = "oss"

    def __init__(self, bucket: str, *, region: str | None = None, endpoint: str | None = None,
                 allow_http: bool = False, oss_bucket: Any = None, credentials: Any = None) -> None:
        self.bucket = bucket
        if oss_bucket is not None:
            self._bucket = oss_bucket
            return
        import oss2

        if region is None and endpoint:
            match = _OSS_ENDPOINT_REGION.search(endpoint)
            region = match.group(1) if match else None
        if not region:
            raise InvalidArgumentError(f"oss://{bucket} needs --region (or an oss-<region>.aliyuncs.com endpoint)")
        endpoint = https_endpoint(endpoint or f"oss-{region}.aliyuncs.com", allow_http=allow_http)
        auth = oss2.ProviderAuthV4(credentials or AlibabaCredentials())
        self._bucket = oss2.Bucket(auth, endpoint, bucket, region=region, connect_timeout=30, enable_crc=True)

    @property
    def endpoint(self) -> str:
        return self._bucket.endpoint

    @contextlib.contextmanager
    def _errors(self, action: str, key: str, writing: bool = False) -> Iterator[None]:
        from oss2.exceptions import OssError, RequestError

        try:
            yield
        except RequestError as exc:  # connection failures (status -2)
            raise BucketAccessError(f"cannot {action} {self.url(key)}: {exc}") from exc
        except OssError as exc:
            raise _access_error(self.url(key), action, exc.code or str(exc.status), exc.message, writing) from exc

    def get_bytes(self, key: str) -> bytes | None:
        from oss2.exceptions import NoSuchKey

        with self._errors("read", key):
            try:
                return self._bucket.get_object(key).read()
            except NoSuchKey:
                return None

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        with self._errors("write", key, writing=True):
            self._bucket.put_object(key, data, headers={"Content-Type": content_type})

    def list(self, prefix: str) -> dict[str, ObjectInfo]:
        import oss2

        with self._errors("list", prefix):
            return {o.key: ObjectInfo(int(o.size), {}, float(o.last_modified or 0))
                    for o in oss2.ObjectIteratorV2(self._bucket, prefix=prefix, max_keys=1000)}

    def head(self, key: str) -> ObjectInfo | None:
        from oss2.exceptions import NotFound

        with self._errors("read", key):
            try:
                result = self._bucket.head_object(key)
            except NotFound:
                return None
        meta = {name.lower()[len("x-oss-meta-"):]: value for name, value in result.headers.items()
                if name.lower().startswith("x-oss-meta-")}
        return ObjectInfo(int(result.content_length), meta, float(getattr(result, "last_modified", 0) or 0))

    def delete(self, keys: Sequence[str]) -> None:
        for batch in _batches(keys, DELETE_BATCH):
            with self._errors("delete", batch[0], writing=True):
                result = self._bucket.batch_delete_objects(list(batch))
            missed = sorted(set(batch) - set(result.deleted_keys))
            if missed:
                raise BucketAccessError(f"OSS did not delete {len(missed)} object(s), first {self.url(missed[0])}")

    def put_file(self, path: str, key: str, metadata: Mapping[str, str]) -> None:
        with self._errors("write", key, writing=True):
            self._bucket.put_object_from_file(key, path, headers=_oss_meta(metadata))

    def create_upload(self, key: str, metadata: Mapping[str, str]) -> str:
        with self._errors("write", key, writing=True):
            return self._bucket.init_multipart_upload(key, headers=_oss_meta(metadata)).upload_id

    def upload_part(self, key: str, upload_id: str, number: int, path: str, offset: int, size: int) -> Part:
        from oss2.utils import SizedFileAdapter

        with self._errors("write", key, writing=True), open(path, "rb") as f:
            f.seek(offset)
            result = self._bucket.upload_part(key, upload_id, number, SizedFileAdapter(f, size))
        return Part(number, size, result.etag, crc64=getattr(result, "crc", None))

    def list_parts(self, key: str, upload_id: str) -> list[Part]:
        import oss2

        with self._errors("list parts of", key):
            return [Part(p.part_number, p.size, p.etag) for p in oss2.PartIterator(self._bucket, key, upload_id)]

    def complete_upload(self, key: str, upload_id: str, parts: Sequence[Part]) -> None:
        from oss2.models import PartInfo

        infos = [PartInfo(p.number, p.etag, size=p.size, part_crc=p.crc64) for p in sorted(parts, key=lambda p: p.number)]
        with self._errors("write", key, writing=True):
            self._bucket.complete_multipart_upload(key, upload_id, infos)

    def abort_upload(self, key: str, upload_id: str) -> None:
        with self._errors("abort an upload of", key, writing=True):
            self._bucket.abort_multipart_upload(key, upload_id)

    def list_uploads(self, prefix: str) -> list[Upload]:
        import oss2

        with self._errors("list incomplete uploads under", prefix):
            return [Upload(u.key, u.upload_id) for u in oss2.MultipartUploadIterator(self._bucket, prefix=prefix)
                    if u.upload_id]


def _oss_meta(metadata: Mapping[str, str]) -> dict[str, str]:
    return {"x-oss-meta-" + name: value for name, value in metadata.items()}
