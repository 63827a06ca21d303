"""The errors the model tools report on purpose: one line each, naming the path, flag, bucket or key.

Every class carries the process exit code it maps to.  ``2`` means "configuration: retrying cannot
help" (the ingest Job's ``podFailurePolicy`` fails the Job at once on it); ``1`` means "may work
if run again" (a network failure, a file that changed under us); ``130`` is an interruption.
"""
from __future__ import annotations


class ModelSyncError(Exception):
    """Base class: the CLI and the ingest print these as ``error: <message>`` without a traceback."""

    exit_code = 2


class InvalidArgumentError(ModelSyncError, ValueError):
    """A flag, URL, endpoint or setting cannot be used."""


class SourceDirectoryError(ModelSyncError):
    """The model source directory does not exist, is not a directory, or has the wrong layout."""


class EmptySourceError(SourceDirectoryError):
    """The model source directory holds no file to upload (after include/exclude)."""


class UnreadableFileError(ModelSyncError):
    """A file of the model cannot be read (permissions, broken symlink, not a regular file)."""


class DigestMismatchError(ModelSyncError):
    """The local directory is not the model version the configuration pins."""


class VersionConflictError(ModelSyncError):
    """A finished version in the bucket holds another file set than the one being uploaded to it."""


class SourceChangedError(ModelSyncError):
    """A file changed while it was being uploaded; a new run hashes it again."""

    exit_code = 1


class BucketAccessError(ModelSyncError):
    """The bucket cannot be used: a service or network error that may pass."""

    exit_code = 1


class BucketConfigError(BucketAccessError):
    """No credentials, access denied or an unusable endpoint: a new run will fail the same way."""

    exit_code = 2


class BucketNotFoundError(BucketConfigError):
    """The bucket does not exist."""


class BucketNotWritableError(BucketConfigError):
    """The bucket exists but the credentials cannot write to it."""


class Interrupted(ModelSyncError):
    """Stopped on request (Ctrl-C / SIGTERM) after the requests in flight; the next run resumes."""

    exit_code = 130
