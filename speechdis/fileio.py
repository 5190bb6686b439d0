"""Small file helpers shared across the package: atomic writes, output locks."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it over ``path`` only if the block succeeds.

    A crash mid-write therefore never leaves a truncated file under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
    try:
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_stale_tmp(directory: str | os.PathLike, *names: str) -> list[Path]:
    """Delete temporary files that :func:`atomic_open` left in ``directory`` when its process was killed.

    ``names`` are the final file names (glob patterns allowed, e.g. ``ckpt-*.pt``) whose leftovers to
    remove; call before rewriting those files (rerun, resume). Returns the removed files.
    """
    directory = Path(directory)
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for name in names:
        for tmp in directory.glob(f".{name}.*.tmp"):
            try:
                tmp.unlink()
                removed.append(tmp)
            except FileNotFoundError:  # removed concurrently
                pass
    return removed


@contextmanager
def output_lock(target: str | os.PathLike, what: str = "speechdis", *, directory: bool,
                shared: bool = False) -> Iterator[Path]:
    """Hold an exclusive lock on the output ``target`` while the block runs; a second writer fails at once.

    The lock is ``fcntl.flock`` on ``<target>/.lock`` for a ``directory`` output (created if missing, and
    removed again if the block left it empty),
    ``<target>.lock`` beside a file output; it records the holder's pid and ``what`` (e.g. ``speechdis
    train``), which the :class:`OutputLockedError` of another process names. ``shared``: a shared lock,
    which any number of holders take together but not beside an exclusive one (grid jobs that each write
    their own part of an output share it; merging the parts takes it exclusively). The kernel drops the
    lock when the process dies, so a killed run never leaves a stale lock.
    """
    import fcntl

    from speechdis.errors import OutputLockedError

    target = Path(target)
    path = target / ".lock" if directory else target.with_name(target.name + ".lock")
    created = directory and not target.exists()  # removed again when the run left nothing in it
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _lock_holder(fd)
            os.close(fd)
            raise OutputLockedError(f"{target} is being written by another process ({holder}); wait for it "
                                    f"to finish or use another output") from None
        except BaseException:
            os.close(fd)
            raise
        try:  # the holder before us may have removed the file after we opened it: lock the current one
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        if not shared:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {what}\n".encode())
        yield path
    finally:
        if not shared:
            try:
                os.unlink(path)  # while still holding it: a waiting opener then sees the inode change
            except FileNotFoundError:
                pass
        os.close(fd)
        if created:
            try:
                target.rmdir()  # only if empty: a run that failed before writing anything leaves nothing
            except OSError:
                pass


def _lock_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode(errors="replace").strip()
    except OSError:
        text = ""
    pid, _, what = text.partition(" ")
    if not pid:
        return "held shared by grid jobs"
    return f"pid {pid}: {what}" if what else f"pid {pid}"


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes (read in chunks: constant memory)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()
