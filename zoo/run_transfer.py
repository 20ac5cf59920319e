"""The chief's unfinished run, sent to every worker of a multi-worker run.

Only the chief writes the run directory, and the workers need not share a
file system; but when a run resumes, every worker must restore the same
checkpoint (restoring assigns variables, a collective step). So the chief
packs the files a run resumes from into one byte string, and
`collectives.from_chief` carries it to the others, who unpack it into their
own (temporary) directory.
"""

from __future__ import annotations

import json
import os

import numpy as np

from zoo import rundir
from zoo.cluster import Role
from zoo.collectives import from_chief


def prepare_everywhere(strategy, role: Role, run_dir: str, out_dir: str, prepare):
    """`prepare(directory)` on every worker, from the chief's run directory.

    The chief prepares the run directory (refusing a finished run, finding a
    checkpoint to resume). When it resumes, the files it resumes from
    (config, task state, history, the checkpoint) are copied to every other
    worker's directory through the cluster, so every worker restores the same
    checkpoint: restoring assigns variables, which takes collective steps
    that all workers must join. The run directory need not be shared.

    Returns:
        What `prepare` returns on this worker (the chief's `Resume`, or None).
    """
    payload, failed, resume = b"", None, None
    if role.chief:
        try:
            resume = prepare(run_dir)
            payload = pack(run_dir) if resume else b""
        except Exception as err:  # noqa: BLE001  (re-raised below, once the others know)
            failed = err
    size = int(from_chief(strategy, [np.array([-1.0 if failed else len(payload)])])[0][0])
    if failed is not None:
        raise failed
    if size < 0:
        raise rundir.RunError(
            f"the chief (worker 0) could not start the run in {run_dir}; its own output says why"
        )
    if size:
        words = np.frombuffer(payload.ljust(-(-size // 4) * 4, b"\0"), dtype="<u4")
        words = from_chief(strategy, [words if role.chief else np.zeros(-(-size // 4), "<u4")])[0]
        if not role.chief:
            unpack(words.astype("<u4").tobytes()[:size], out_dir)
    return resume if role.chief else prepare(out_dir)


def pack(run_dir: str) -> bytes:
    """The files an unfinished run resumes from, as one byte string (a JSON index, then the bytes)."""
    names = [rundir.CONFIG_FILE, rundir.STATE_FILE, rundir.HISTORY_FILE]
    backup = os.path.join(run_dir, rundir.BACKUP_DIR)
    if os.path.isdir(backup):
        names += sorted(f"{rundir.BACKUP_DIR}/{n}" for n in os.listdir(backup) if not n.startswith("."))
    files = {}
    for name in names:
        path = os.path.join(run_dir, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                files[name] = f.read()
    index = json.dumps({name: len(data) for name, data in files.items()}).encode()
    return len(index).to_bytes(8, "little") + index + b"".join(files.values())


def unpack(payload: bytes, out_dir: str) -> None:
    """Writes the files of `pack`'s byte string into `out_dir`; refuses any other name.

    Raises:
        ValueError: for a name that is not one of a run's resume files (a
            path out of `out_dir`, say).
    """
    length = int.from_bytes(payload[:8], "little")
    index, offset = json.loads(payload[8 : 8 + length]), 8 + length
    for name, size in index.items():
        parts = name.split("/")
        top = name in (rundir.CONFIG_FILE, rundir.STATE_FILE, rundir.HISTORY_FILE)
        checkpoint = len(parts) == 2 and parts[0] == rundir.BACKUP_DIR and parts[1] not in ("", ".", "..")
        if not (top or checkpoint):
            raise ValueError(f"unexpected file {name!r} from the chief")
        os.makedirs(os.path.join(out_dir, *parts[:-1]), exist_ok=True)
        with open(os.path.join(out_dir, *parts), "wb") as f:
            f.write(payload[offset : offset + size])
        offset += size
