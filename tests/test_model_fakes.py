"""Fakes shared by the model tests (no tests here; named test_model_* to stay in the model's files).

* :class:`FakeOssBucket`: the part of ``oss2.Bucket`` that ``OssStore`` calls, driven through the
  real ``oss2`` iterators.  Its multipart uploads keep their parts, so ``list_parts`` and
  ``list_multipart_uploads`` answer what the service would, and a test can stop it after N parts.
* :class:`FakeHub`: a Hugging Face Hub on 127.0.0.1 speaking the endpoints the pinned
  ``huggingface_hub`` calls, with the Hub's behaviour for gated and private repositories: metadata
  of a gated repository is public, ``auth-check`` and ``/resolve/`` answer 403/401 with
  ``X-Error-Code: GatedRepo`` (or ``RepoNotFound`` for private ones) unless the token may read it.
"""
from __future__ import annotations

import hashlib
import io
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import unquote, urlsplit

import oss2
from oss2.models import MultipartUploadInfo, PartInfo


class StopAfterParts(Exception):
    """Raised by the fake OSS bucket once it has taken the number of parts it was told to."""


class FakeOssBucket:
    def __init__(self, bucket_name: str = "model-bucket") -> None:
        self.bucket_name = bucket_name
        self.endpoint = "https://oss-cn-hangzhou.aliyuncs.com"
        self.objects: dict[str, tuple[bytes, dict[str, str]]] = {}
        self.calls: list[str] = []
        self.deny_writes = False
        self.parts_left: int | None = None  # stop after this many more upload_part calls
        self.uploads: dict[str, tuple[str, dict[int, bytes], dict[str, str]]] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()

    def _record(self, name: str) -> None:
        with self._lock:
            self.calls.append(name)
        if self.deny_writes and name in ("put_object", "init_multipart_upload", "batch_delete_objects",
                                         "put_object_from_file"):
            raise oss2.exceptions.AccessDenied(403, {}, b"", {"Code": "AccessDenied", "Message": "denied"})

    def get_object(self, key):
        self._record("get_object")
        if key not in self.objects:
            raise oss2.exceptions.NoSuchKey(404, {}, b"", {"Code": "NoSuchKey"})
        return io.BytesIO(self.objects[key][0])

    def put_object(self, key, data, headers=None, progress_callback=None):
        self._record("put_object")
        self.objects[key] = (data if isinstance(data, bytes) else data.read(), dict(headers or {}))

    def put_object_from_file(self, key, filename, headers=None, progress_callback=None):
        self._record("put_object_from_file")
        with open(filename, "rb") as f:
            self.objects[key] = (f.read(), dict(headers or {}))

    def head_object(self, key, headers=None, params=None):
        self._record("head_object")
        if key not in self.objects:
            raise oss2.exceptions.NotFound(404, {}, b"", {})
        body, object_headers = self.objects[key]
        return SimpleNamespace(content_length=len(body), headers=object_headers, last_modified=int(time.time()))

    def list_objects_v2(self, prefix="", continuation_token="", max_keys=100, **_):
        self._record("list_objects_v2")
        keys = sorted(key for key in self.objects if key.startswith(prefix))
        start = int(continuation_token or 0)
        page = keys[start: start + max_keys]
        return SimpleNamespace(
            object_list=[SimpleNamespace(key=k, size=len(self.objects[k][0]), last_modified=1) for k in page],
            prefix_list=[], is_truncated=start + max_keys < len(keys), next_continuation_token=str(start + max_keys))

    def batch_delete_objects(self, key_list, headers=None):
        self._record("batch_delete_objects")
        for key in key_list:
            self.objects.pop(key, None)
        return SimpleNamespace(deleted_keys=list(key_list))

    def init_multipart_upload(self, key, headers=None, params=None):
        self._record("init_multipart_upload")
        upload_id = f"upload-{next(self._ids)}"
        self.uploads[upload_id] = (key, {}, dict(headers or {}))
        return SimpleNamespace(upload_id=upload_id)

    def upload_part(self, key, upload_id, part_number, data, progress_callback=None, headers=None):
        with self._lock:
            if self.parts_left is not None:
                if self.parts_left <= 0:
                    raise StopAfterParts(f"stopped before part {part_number}")
                self.parts_left -= 1
        self._record("upload_part")
        body = data.read()
        self.uploads[upload_id][1][part_number] = body
        return SimpleNamespace(etag=hashlib.md5(body).hexdigest().upper(), crc=None)

    def list_parts(self, key, upload_id, marker="", max_parts=1000, headers=None):
        self._record("list_parts")
        parts = sorted(self.uploads[upload_id][1].items())
        start = int(marker or 0)
        page = [(n, b) for n, b in parts if n > start][:max_parts]
        return SimpleNamespace(
            parts=[PartInfo(n, hashlib.md5(b).hexdigest().upper(), size=len(b)) for n, b in page],
            is_truncated=len(page) == max_parts and page[-1][0] < parts[-1][0],
            next_marker=str(page[-1][0]) if page else "")

    def list_multipart_uploads(self, prefix="", delimiter="", key_marker="", upload_id_marker="", max_uploads=1000,
                               headers=None):
        self._record("list_multipart_uploads")
        found = sorted((key, uid) for uid, (key, _, _) in self.uploads.items() if key.startswith(prefix))
        return SimpleNamespace(upload_list=[MultipartUploadInfo(k, u, 0) for k, u in found], prefix_list=[],
                               is_truncated=False, next_key_marker="", next_upload_id_marker="")

    def complete_multipart_upload(self, key, upload_id, parts, headers=None):
        self._record("complete_multipart_upload")
        _, stored, upload_headers = self.uploads.pop(upload_id)
        assert sorted(p.part_number for p in parts) == sorted(stored) == list(range(1, len(stored) + 1))
        for part in parts:
            assert part.etag == hashlib.md5(stored[part.part_number]).hexdigest().upper()
        self.objects[key] = (b"".join(stored[n] for n in sorted(stored)), upload_headers)

    def abort_multipart_upload(self, key, upload_id, headers=None):
        self._record("abort_multipart_upload")
        del self.uploads[upload_id]


# ----------------------------------------------------------------------------------- the Hub


@dataclass
class HubRepo:
    files: dict[str, bytes]
    commit: str = "c" * 40
    branches: dict[str, str] = field(default_factory=dict)
    gated: bool = False
    private: bool = False
    readers: set[str] = field(default_factory=set)  # tokens allowed to download


class FakeHub:
    """``with FakeHub({...}) as hub:`` serves on ``hub.url``; ``hub.requests`` lists (method, path)."""

    def __init__(self, repos: dict[str, HubRepo]) -> None:
        self.repos = repos
        self.requests: list[tuple[str, str]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_HEAD(self):  # noqa: N802
                hub._serve(self, head=True)

            def do_GET(self):  # noqa: N802
                hub._serve(self, head=False)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeHub:
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _serve(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        path = unquote(urlsplit(h.path).path)
        self.requests.append((h.command, path))
        token = (h.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "models"]:
            repo_id, rest = "/".join(parts[2:4]), parts[4:]
            resolve = None
        elif len(parts) >= 5 and parts[2] == "resolve":
            repo_id, rest, resolve = "/".join(parts[:2]), [], (parts[3], "/".join(parts[4:]))
        else:
            return self._reply(h, 404, {}, head)
        repo = self.repos.get(repo_id)
        may_read = repo is not None and (not (repo.gated or repo.private) or token in repo.readers)
        if repo is None or (repo.private and not may_read):
            return self._reply(h, 401, {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"},
                               head)
        if resolve is None and rest[:1] == ["auth-check"]:
            if not may_read:
                return self._reply(h, 403, {"X-Error-Code": "GatedRepo", "X-Error-Message": "Access restricted"},
                                   head)
            return self._reply(h, 200, {}, head, b"{}")
        revision = resolve[0] if resolve else (rest[1] if len(rest) > 1 else "main")
        commit = revision if revision == repo.commit else repo.branches.get(revision)
        if commit is None:
            return self._reply(h, 404, {"X-Error-Code": "RevisionNotFound", "X-Error-Message": "Invalid rev id"},
                               head)
        if resolve is not None:
            if not may_read:
                return self._reply(h, 401 if not token else 403,
                                   {"X-Error-Code": "GatedRepo", "X-Error-Message": "Access to model is restricted"},
                                   head)
            body = repo.files.get(resolve[1])
            if body is None:
                return self._reply(h, 404, {"X-Error-Code": "EntryNotFound"}, head)
            return self._reply(h, 200, {"X-Repo-Commit": commit, "ETag": f'"{hashlib.sha256(body).hexdigest()}"',
                                        "Content-Type": "application/octet-stream"}, head, body)
        if rest[:1] == ["tree"]:
            tree = [{"type": "file", "path": p, "size": len(b), "oid": hashlib.sha1(b).hexdigest()}
                    for p, b in sorted(repo.files.items())]
            return self._reply(h, 200, {"Content-Type": "application/json"}, head, json.dumps(tree).encode())
        info = {"id": repo_id, "modelId": repo_id, "sha": commit, "private": repo.private,
                "gated": "manual" if repo.gated else False, "siblings": [{"rfilename": p} for p in sorted(repo.files)]}
        return self._reply(h, 200, {"Content-Type": "application/json"}, head, json.dumps(info).encode())

    @staticmethod
    def _reply(h: BaseHTTPRequestHandler, status: int, headers: dict[str, str], head: bool, body: bytes = b"") -> None:
        h.send_response(status)
        for name, value in headers.items():
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if not head:
            h.wfile.write(body)
