"""Hugging Face Hub look-ups shared by the ingest Job and the HfRevision resource.

Each Hub error becomes one line that says what to do (exit code 2: retrying cannot help); only
network failures and 5xx answers stay retryable (exit code 1).  The Hub serves a gated repository's
*metadata* to anyone and refuses its *files* (``/resolve/`` answers 401/403 with ``X-Error-Code:
GatedRepo``), so :func:`check_access` asks ``/api/models/<repo>/auth-check`` -- the files' rule --
before anything is downloaded.
"""
from __future__ import annotations

import contextlib
import fnmatch
import re
from collections.abc import Iterator, Sequence

from components.model.errors import ModelSyncError

COMMIT = re.compile(r"[0-9a-f]{40}")
_TOKEN_HINT = "set kserve-fluid:hfToken (pulumi config set --secret hfToken hf_...)"


class HubError(ModelSyncError):
    """The Hub refused: no such repository or revision, gated, private, or a bad token."""


class HubUnavailable(ModelSyncError):
    """The Hub could not be reached or failed (5xx); a new run may work."""

    exit_code = 1


@contextlib.contextmanager
def hub_errors(repo: str, revision: str, token: str | None) -> Iterator[None]:
    """Translate huggingface_hub's errors (its own classes, whichever call raised them)."""
    from huggingface_hub.errors import (
        DisabledRepoError,
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    token_state = "the token has no access" if token else "no token is set"
    try:
        yield
    except GatedRepoError as exc:  # before RepositoryNotFoundError, its base class
        raise HubError(f"hf://{repo} is gated and {token_state}: accept its licence on the Hub with the token's "
                       f"account, then {_TOKEN_HINT}") from exc
    except RevisionNotFoundError as exc:
        raise HubError(f"revision {revision!r} not found in hf://{repo}") from exc
    except RepositoryNotFoundError as exc:
        raise HubError(f"repository hf://{repo} not found, or private and {token_state}; check source, or "
                       f"{_TOKEN_HINT}") from exc
    except DisabledRepoError as exc:
        raise HubError(f"repository hf://{repo} is disabled on the Hub") from exc
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", 0) or 0
        if status in (401, 403):
            raise HubError(f"the Hub refused the token for hf://{repo} ({status}); {_TOKEN_HINT}") from exc
        raise HubUnavailable(f"Hugging Face Hub error for hf://{repo}: {str(exc).splitlines()[0]}") from exc
    except OSError as exc:  # connection failures (httpx errors are not OSError: see below)
        raise HubUnavailable(f"cannot reach the Hugging Face Hub for hf://{repo}: {exc}") from exc
    except Exception as exc:
        if type(exc).__module__.split(".")[0].startswith("httpx"):
            raise HubUnavailable(f"cannot reach the Hugging Face Hub for hf://{repo}: {exc!r}") from exc
        raise


def _api(token: str | None, endpoint: str | None):
    from huggingface_hub import HfApi

    return HfApi(endpoint=endpoint or None, token=token or False)


def resolve_commit(repo: str, revision: str, *, token: str | None = None, endpoint: str | None = None) -> str:
    """The commit a revision names; a 40-hex commit is returned as is, without a request."""
    if COMMIT.fullmatch(revision):
        return revision
    with hub_errors(repo, revision, token):
        sha = _api(token, endpoint).model_info(repo, revision=revision).sha
    if not sha or not COMMIT.fullmatch(sha):
        raise HubUnavailable(f"the Hub gave no commit for hf://{repo}@{revision} (got {sha!r})")
    return sha


def check_access(repo: str, *, token: str | None = None, endpoint: str | None = None) -> None:
    """Raise :class:`HubError` unless the files of ``repo`` may be downloaded with ``token``."""
    with hub_errors(repo, "", token):
        _api(token, endpoint).auth_check(repo)


def repo_files(repo: str, commit: str, include: Sequence[str] | None, exclude: Sequence[str] | None, *,
               token: str | None = None, endpoint: str | None = None) -> dict[str, int]:
    """Path -> size of the files of ``commit`` that the patterns select (as snapshot_download does)."""
    from huggingface_hub.hf_api import RepoFile

    with hub_errors(repo, commit, token):
        tree = _api(token, endpoint).list_repo_tree(repo, revision=commit, recursive=True)
        files = {f.path: int(f.size) for f in tree if isinstance(f, RepoFile)}
    return {path: size for path, size in files.items() if selected(path, include, exclude)}


def selected(path: str, include: Sequence[str] | None, exclude: Sequence[str] | None) -> bool:
    """huggingface_hub's allow/ignore rule: fnmatch, and a pattern ending in ``/`` means its folder."""
    def matches(patterns: Sequence[str]) -> bool:
        return any(fnmatch.fnmatch(path, p + "*" if p.endswith("/") else p) for p in patterns)

    return (not include or matches(include)) and not (exclude and matches(exclude))
