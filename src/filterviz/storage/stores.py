"""A log directory's storage: a folder on this machine, or a URL of an object store, behind one interface.

A plain path stays a path: `LocalStore` reads it with the operating system's own calls, as before. A URL
(`s3://bucket/logs`, `gs://...`, `memory://...`, any scheme fsspec serves) is a `RemoteStore`, through
fsspec and the package that serves its scheme (s3fs, gcsfs, ...). Never is a URL turned into a local folder
named after its scheme.

Object stores cannot append to an object (and TensorFlow's and tensorboardX's writers re-upload the whole
growing file at every flush, a cost that grows with the square of the run), so writers put each batch of
records as a new object (`filterviz.storage.uploads`); readers list a run's objects and read each once.

Errors say what to do: a scheme nothing serves (ValueError), the package that serves it not installed
(ImportError, naming the extra), and a store that cannot be reached or written (`StoreUnavailable`, an
OSError, naming the setting to fix: credentials, a missing bucket).
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")
# The package fsspec needs for a scheme, the extra that installs it, and where that store takes credentials.
_PACKAGES = {
    "s3": ("s3fs", "filterviz[s3]"),
    "s3a": ("s3fs", "filterviz[s3]"),
    "gs": ("gcsfs", "filterviz[gcs]"),
    "gcs": ("gcsfs", "filterviz[gcs]"),
    "az": ("adlfs", "adlfs"),
    "abfs": ("adlfs", "adlfs"),
    "abfss": ("adlfs", "adlfs"),
}
_CREDENTIALS = {
    "s3fs": "AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ~/.aws/credentials or the "
    "machine's role; AWS_ENDPOINT_URL for an S3-compatible server)",
    "gcsfs": "Google credentials (gcloud auth application-default login, or GOOGLE_APPLICATION_CREDENTIALS)",
    "adlfs": "Azure credentials (AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_NAME and a key)",
}
EVENT_FILE_MARK = "tfevents"  # in the name of every event file TensorBoard reads


class StoreUnavailable(OSError):
    """A store that cannot be reached, read or written: the message says why and what to set."""


def scheme_of(log_dir: str | os.PathLike[str]) -> str | None:
    """The URL scheme of `log_dir` ("s3", "gs", ...), or None for a path on this machine (file:// too)."""
    if not isinstance(log_dir, str):
        return None
    found = _SCHEME.match(log_dir)
    if found is None or found.group(1).lower() in ("file", "local"):
        return None
    return found.group(1).lower()


def local_path(log_dir: str | os.PathLike[str]) -> Path:
    """A path on this machine, with a file:// prefix taken off."""
    text = os.fspath(log_dir)
    for prefix in ("file://", "local://"):
        if text.lower().startswith(prefix):
            return Path(text[len(prefix) :])
    return Path(text)


def open_store(log_dir: str | os.PathLike[str]) -> LocalStore | RemoteStore:
    """The store `log_dir` names. For a URL, raises ValueError for a scheme nothing serves and ImportError
    when the package that serves it is missing; nothing is asked of the network yet."""
    scheme = scheme_of(log_dir)
    if scheme is None:
        return LocalStore(local_path(log_dir))
    return RemoteStore(str(log_dir).rstrip("/"), scheme)


def _file_system_class(scheme: str, url: str):
    """fsspec's file system class for `scheme`, with an error that says what to install."""
    package, extra = _PACKAGES.get(scheme, (None, None))
    try:
        import fsspec
    except ImportError:  # a dependency of filterviz: only a broken install lacks it
        raise ImportError(f"{url!r} is read and written through fsspec: pip install fsspec") from None
    try:
        return fsspec.get_filesystem_class(scheme)
    except ImportError:
        what = package or f"the package that serves {scheme}://"
        raise ImportError(
            f"{url!r} needs {what} to be reached: pip install '{extra or what}'"
            + (f" (or pip install {package})" if extra and extra != package else "")
        ) from None
    except ValueError:
        raise ValueError(
            f"log_dir={url!r}: no file system serves the scheme {scheme!r}. Give a folder on this machine, "
            "or the URL of an object store fsspec serves: s3:// (with s3fs), gs:// (with gcsfs), memory://..."
        ) from None


@dataclass(frozen=True)
class FileInfo:
    """One event file of a run: where it is (a path, or a key of the store) and how many bytes it has."""

    path: str
    size: int


class LocalStore:
    """A log directory on this machine. Folders are followed through symbolic links, as TensorBoard does."""

    remote = False

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.url = str(self.root)

    def join(self, *parts: str) -> str:
        return str(self.root.joinpath(*parts))

    def relative(self, path: str) -> str:
        """`path` as shown to a user: relative to the log directory."""
        try:
            return Path(path).relative_to(self.root).as_posix()
        except ValueError:
            return Path(path).name

    def is_folder(self) -> bool:
        return self.root.is_dir()

    def event_files(self) -> dict[str, list[FileInfo]]:
        """Run folder (relative, "." for the log directory) -> its event files in name order."""
        runs: dict[str, list[FileInfo]] = {}
        seen: set[str] = set()
        for folder, subfolders, files in os.walk(self.root, followlinks=True):
            real = os.path.realpath(folder)
            if real in seen:
                subfolders[:] = []  # a link back up the tree
                continue
            seen.add(real)
            subfolders.sort()
            events = []
            for name in sorted(name for name in files if EVENT_FILE_MARK in name):
                path = os.path.join(folder, name)
                try:
                    events.append(FileInfo(path, os.stat(path).st_size))
                except OSError:
                    continue  # gone since it was listed
            if events:
                runs[Path(folder).relative_to(self.root).as_posix()] = events
        return runs

    def open(self, path: str) -> IO[bytes]:
        return open(path, "rb")

    def read(self, path: str, start: int, length: int) -> bytes:
        with open(path, "rb") as file:
            file.seek(start)
            return file.read(length)


class RemoteStore:
    """A log directory on an object store, through fsspec.

    Args:
        url: the log directory's URL, such as `s3://bucket/logs/run1`.
        scheme: its scheme.
    """

    remote = True
    block_size = 4 << 20  # bytes fetched per request when records are read in order

    def __init__(self, url: str, scheme: str) -> None:
        self.url = url
        self.scheme = scheme
        cls = _file_system_class(scheme, url)
        self.package = _PACKAGES.get(scheme, (cls.__module__.split(".")[0], None))[0]
        self._fs: Any = None
        self._cls = cls
        self.root = cls._strip_protocol(url).rstrip("/")

    @property
    def fs(self) -> Any:
        """The file system, made when first used (s3fs and gcsfs read their credentials then)."""
        if self._fs is None:
            import fsspec

            # A file system of its own: it reads the credentials and endpoint set now, not those of an
            # earlier one fsspec would hand out again.
            self._fs = fsspec.filesystem(self.scheme, skip_instance_cache=True)
        return self._fs

    def join(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def relative(self, path: str) -> str:
        return posixpath.relpath(path, self.root) if path.startswith(self.root) else posixpath.basename(path)

    def address(self, path: str) -> str:
        """`path` as a URL, for messages."""
        return f"{self.scheme}://{path}"

    def is_folder(self) -> bool:
        try:
            self.fs.invalidate_cache()
            return bool(self.fs.isdir(self.root))
        except Exception as error:
            raise self.unavailable("read", error) from None

    def event_files(self) -> dict[str, list[FileInfo]]:
        """Run folder (relative, "." for the log directory itself) -> its event objects in name order.
        Listed afresh at every call: fsspec's listing cache would hide new objects."""
        try:
            self.fs.invalidate_cache()  # the whole cache: s3fs keeps each subfolder's listing apart
            found = self.fs.find(self.root, detail=True)
        except FileNotFoundError:
            return {}
        except Exception as error:
            raise self.unavailable("list", error) from None
        runs: dict[str, list[FileInfo]] = {}
        for path in sorted(found):
            info = found[path]
            if info.get("type", "file") != "file" or EVENT_FILE_MARK not in posixpath.basename(path):
                continue
            folder = posixpath.dirname(path)
            run = posixpath.relpath(folder, self.root) if folder != self.root else "."
            runs.setdefault(run, []).append(FileInfo(path, int(info.get("size") or 0)))
        return runs

    def open(self, path: str) -> IO[bytes]:
        return self.fs.open(path, "rb", block_size=self.block_size, cache_type="readahead")

    def read(self, path: str, start: int, length: int) -> bytes:
        return self.fs.cat_file(path, start=start, end=start + length)

    def put(self, path: str, data: bytes) -> None:
        """One new object, in one request (as far as the store allows)."""
        self.fs.pipe_file(path, data)

    def unavailable(self, doing: str, error: BaseException) -> StoreUnavailable:
        """The error to raise when `doing` (read, list, write) fails, naming what to fix."""
        return StoreUnavailable(f"cannot {doing} {self.url}: {describe_failure(error, self.package)}")


def describe_failure(error: BaseException, package: str | None) -> str:
    """What went wrong with a store, and what to set or check, in one line."""
    kind = type(error).__name__
    text = re.sub(r"\s+", " ", str(error)).strip()[:300] or kind
    credentials = _CREDENTIALS.get(package or "", "the store's credentials")
    if kind in ("NoCredentialsError", "PartialCredentialsError", "DefaultCredentialsError") or (
        isinstance(error, PermissionError)
    ):
        return f"{kind}: {text}. Check {credentials}"
    if isinstance(error, FileNotFoundError):
        return f"{kind}: {text}. Does the bucket exist? filterviz makes folders, never buckets"
    return f"{kind}: {text}"
