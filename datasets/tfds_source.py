"""Finding TFDS data offline, with one clear error instead of minutes of retries.

Stock `tfds.load("imdb_reviews")` on a machine without network and without
prepared data retries its download for about 205 s before it fails. We look
first, and fail within seconds with a message that says what to do.
"""

from __future__ import annotations

import os
import socket
import urllib.parse
from pathlib import Path

import tensorflow_datasets as tfds

# Where `rnn_zoo_synthetic` is generated when no prepared copy is found. The
# directory real data is read from may be read-only (it is in CI), so
# generated data never goes there.
GENERATED_DIR_ENV = "RNN_ZOO_GENERATED_DIR"
# Set to 1 to skip the network probe (tests, air-gapped machines).
OFFLINE_ENV = "RNN_ZOO_OFFLINE"


class DataNotFoundError(RuntimeError):
    """A dataset is neither prepared nor obtainable; the message says why."""


def default_data_dir(data_dir: str | None = None) -> str:
    """TFDS conventions: `--data-dir`, else `$TFDS_DATA_DIR`, else ~/tensorflow_datasets."""
    if data_dir:
        return os.path.expanduser(data_dir)
    return os.path.expanduser(os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets")


def generated_data_dir() -> str:
    """A writable directory for datasets that this project generates."""
    default = os.path.join("~", ".cache", "rnn_zoo", "tensorflow_datasets")
    return os.path.expanduser(os.environ.get(GENERATED_DIR_ENV) or default)


def is_prepared(builder: tfds.core.DatasetBuilder) -> bool:
    """Whether the builder's versioned data directory holds prepared data."""
    return builder.is_prepared()


def network_reachable(url: str, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the URL's host opens within `timeout` seconds."""
    if os.environ.get(OFFLINE_ENV) == "1":
        return False
    parts = urllib.parse.urlparse(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def _writable(path: str) -> bool:
    path = Path(path)
    while not path.exists():
        path = path.parent
    return os.access(path, os.W_OK)


def load_builder(name: str, data_dir: str | None, url: str, archive: str):
    """Returns a prepared TFDS builder for `name`, preparing it if it can.

    Order: prepared data in the data dir; the original file `archive` in
    `<data dir>/downloads/manual/` (prepared into the data dir when that is
    writable, else into `generated_data_dir()`); a download from `url` when
    the network answers. Otherwise `DataNotFoundError`, within seconds.

    Args:
        name: TFDS name, e.g. `"imdb_reviews"`.
        data_dir: `--data-dir`, or `None` for the TFDS default.
        url: The original download URL (named in the error message).
        archive: File name of the original download, for the manual dir.
    """
    data_dir = default_data_dir(data_dir)
    builder = tfds.builder(name, data_dir=data_dir)
    if is_prepared(builder):
        return builder
    manual_dir = os.path.join(data_dir, "downloads", "manual")
    has_archive = os.path.exists(os.path.join(manual_dir, archive))
    if has_archive or network_reachable(url):
        target = data_dir if _writable(data_dir) else generated_data_dir()
        builder = tfds.builder(name, data_dir=target)
        if not is_prepared(builder):
            print(f"Preparing {name} in {target} (one time)...", flush=True)
            builder.download_and_prepare(
                download_config=tfds.download.DownloadConfig(manual_dir=manual_dir, try_download_gcs=False)
            )
        return builder
    raise DataNotFoundError(
        f"dataset {name!r} is not prepared in {builder.data_dir} and cannot be "
        f"downloaded (no network; original: {url}). Either point --data-dir or "
        f"TFDS_DATA_DIR at a prepared TFDS data dir (one holding {name}/), or "
        f"place the original file {archive} in {manual_dir}/ and rerun."
    )
