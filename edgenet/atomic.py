"""Atomic output: a crash, a failed check or a SIGKILL never leaves a half-written artefact or a mixed set of them.

* One file (:func:`atomic_path`): written beside its destination and renamed over it (``os.replace`` is atomic on
  one filesystem).
* A folder of artefacts that belong together (``convert``, ``bundle``, ``eval``; :func:`staging_dir` then
  :func:`publish_dir`): the complete new folder is built beside ``--out`` and exchanged with it in one rename
  (Linux ``renameat2(RENAME_EXCHANGE)``), so at every instant ``--out`` is the complete old set or the complete new
  set — never new models beside an old report. The old folder is removed only after the swap.

A process killed half-way leaves its temporary beside the destination, named ``.NAME.HOST.PID.XXXXXXXX.partial``
(a folder) or ``.NAME.HOST.PID.XXXXXXXX.tmp`` (a file). The next run writing to the same destination removes
those whose process is gone, and only those: a run still in progress elsewhere is never touched.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from edgenet.errors import EdgenetError

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_NO_EXCHANGE = {errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP}  # kernel, libc or filesystem lacks it


def _host() -> str:
    """This machine's name, reduced to a token that cannot contain the ``.`` separating the name's fields."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname()) or "host"


def _prefix(name: str) -> str:
    """Start of a temporary's name for ``name``: its writer (host, pid) is readable from it after a SIGKILL."""
    return f".{name}.{_host()}.{os.getpid()}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        pass
    return True


def _dead_writer(entry: str, name: str, suffix: str) -> bool:
    """Whether ``entry`` is a temporary for ``name`` left by a process of this host that no longer runs.

    Temporaries of other hosts (a shared filesystem) are left alone: their pids mean nothing here. A reused pid can
    only delay a removal, never remove the folder of a live run.
    """
    m = re.fullmatch(rf"\.{re.escape(name)}\.([A-Za-z0-9_-]+)\.(\d+)\.[A-Za-z0-9_]+{re.escape(suffix)}", entry)
    return m is not None and m[1] == _host() and not _alive(int(m[2]))


def _remove_stale(parent: Path, name: str) -> None:
    """Finish or undo what killed writers of ``parent/name`` left behind (see the module docstring)."""
    if not parent.is_dir():
        return
    dest = parent / name
    for entry in sorted(os.listdir(parent)):
        path = parent / entry
        if _dead_writer(entry, name, ".old"):
            # killed between the two renames of the fallback swap: the old set is complete, so put it back
            if not dest.exists() and not dest.is_symlink():
                os.rename(path, dest)
            else:
                shutil.rmtree(path, ignore_errors=True)
        elif _dead_writer(entry, name, ".partial"):
            shutil.rmtree(path, ignore_errors=True)
        elif _dead_writer(entry, name, ".tmp"):
            path.unlink(missing_ok=True)


def output_file(dest: str | os.PathLike[str], label: str | None = None) -> Path:
    """Where writing ``dest`` really lands: a symlink's final target (the link stays and points at the new file),
    or ``dest`` itself. Anything standing there that is not a regular file is refused: renaming over a FIFO, a
    socket or a device node would replace it with our file, and a folder cannot be replaced at all."""
    dest = Path(dest)
    label = label or str(dest)
    if dest.is_symlink():
        try:
            target = dest.resolve(strict=False)
        except (OSError, RuntimeError):  # a loop of links
            raise EdgenetError(f"{label}: is a symlink that resolves nowhere (a loop); choose another path") from None
        dest = target
    try:
        mode = os.stat(dest).st_mode
    except FileNotFoundError:
        return dest
    except OSError as e:
        raise EdgenetError(f"{label}: cannot write here ({e.strerror or e}); choose another path") from None
    if stat.S_ISDIR(mode):
        raise EdgenetError(f"{label}: is a folder, not a file; name a file to write, e.g. {dest}/NAME")
    if not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise EdgenetError(f"{label}: is {kind}, not a regular file; edgenet writes only files: choose another path")
    return dest


_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def _temp_beside(dest: Path, label: str) -> str:
    """An empty temporary file beside ``dest`` (already :func:`output_file`); a read-only or a non-folder parent is
    one line."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(dest.parent, dest.name)
        fd, tmp = tempfile.mkstemp(prefix=_prefix(dest.name), suffix=".tmp", dir=dest.parent)
    except OSError as e:
        raise EdgenetError(f"{label}: cannot write here ({e.strerror or e}); choose another path") from None
    os.close(fd)
    return tmp


def check_writable_file(dest: str | os.PathLike[str], option: str = "--out") -> None:
    """Prove now, before minutes of work, that ``dest`` can be written (by writing a temporary beside it)."""
    label = f"{option} {dest}"
    os.unlink(_temp_beside(output_file(dest, label), label))


def check_writable_dir(path: str | os.PathLike[str], option: str = "--out") -> None:
    """Prove now that the folder ``path`` can be created and written; folders made for the proof are removed."""
    path = Path(path)
    made = [p for p in (path, *path.parents) if not p.exists()]  # deepest first, the order to remove them in
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_prefix("probe"), suffix=".tmp", dir=path)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise EdgenetError(f"{option} {path}: cannot create or write this folder ({e.strerror or e})") from None
    finally:
        for folder in made:
            with contextlib.suppress(OSError):
                folder.rmdir()


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; on success it replaces ``dest``, on error it is removed.

    A symlinked ``dest`` is written through: the new file replaces the link's target, the link stays."""
    dest = output_file(dest)
    tmp = _temp_beside(dest, str(dest))
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; a published artefact gets the usual permissions
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        output_file(dest)  # the minutes of work may have let a FIFO or a device appear there
        os.replace(tmp_path, dest)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_text_atomic(dest: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``dest`` atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")


def save_figure(fig, dest: str | os.PathLike[str], **savefig) -> None:
    """A matplotlib figure as a PNG file, written atomically (never over a FIFO or a device standing at its name)."""
    with atomic_path(dest) as tmp:
        fig.savefig(tmp, format="png", **savefig)


def write_bytes_atomic(dest: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``dest`` atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _exchange(a: Path, b: Path) -> bool:
    """Swap the paths ``a`` and ``b`` in one atomic step; False where the kernel, libc or filesystem cannot."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)  # glibc ≥ 2.28; absent on macOS
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in _NO_EXCHANGE:
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


def _link_or_copy(src: str, dst: str) -> None:
    """A hard link (instant, and the same file: nothing can differ); a copy where the filesystem refuses links."""
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dst, follow_symlinks=False)


def _carry(src: Path, dst: Path) -> None:
    """Put a user's entry of the old folder into the new one without touching the original."""
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
    elif src.is_dir():
        shutil.copytree(src, dst, symlinks=True, copy_function=_link_or_copy)
    else:
        _link_or_copy(str(src), str(dst))


def publish_dir(staging: Path, out: str | os.PathLike[str], owned: Iterable[str] = ()) -> list[Path]:
    """Make ``out`` the folder ``staging`` holds, swapped in whole; returns the paths of the files this run wrote.

    Entries of the old ``out`` that this run did not write are carried into the new folder first (hard links), so
    a user's own files survive — except names in ``owned``: artefacts of an earlier run that this run did not
    rebuild, which must not sit beside the new report. ``staging`` must come from :func:`staging_dir` (same
    filesystem); after the swap it holds the old folder, which :func:`staging_dir` then removes.
    """
    out = Path(out).resolve()
    produced = sorted(p.name for p in staging.iterdir())
    if out.is_dir():
        dropped = set(produced) | set(owned)
        for entry in sorted(out.iterdir()):
            if entry.name not in dropped:
                _carry(entry, staging / entry.name)
        os.chmod(staging, stat.S_IMODE(out.stat().st_mode))  # the folder keeps its permissions
        if not _exchange(staging, out):
            # two renames: for an instant --out is absent; a kill there leaves .old, which the next run restores
            old = staging.with_name(staging.name.removesuffix(".partial") + ".old")
            os.rename(out, old)
            os.rename(staging, out)
            shutil.rmtree(old, ignore_errors=True)
    else:
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp creates 0700
        os.rename(staging, out)
    return [out / name for name in produced]


def _holds_cwd(out: Path) -> bool:
    try:
        cwd = Path.cwd().resolve()
    except FileNotFoundError:  # the current folder was deleted: it cannot be inside --out
        return False
    return cwd == out or out in cwd.parents


@contextlib.contextmanager
def staging_dir(out: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary folder beside ``out`` to build the new set in, removed afterwards whatever happens.

    Checked before any work: ``out`` must be a folder (or absent) whose parent is writable, and must not hold the
    current folder — the swap would leave the caller's shell in the old, deleted folder.
    """
    out = Path(out).resolve()  # a symlinked --out: the swap happens at its target, the link stays
    if _holds_cwd(out):
        raise EdgenetError(
            f"{out}: --out is (or holds) the current folder; the new set replaces the whole folder, which would "
            f"leave your shell in the old, deleted one: choose a subfolder, e.g. --out {out / 'model'}"
        )
    with contextlib.ExitStack() as stack:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            if out.exists() and not out.is_dir():
                raise NotADirectoryError(20, "exists and is not a folder")
            tmp = stack.enter_context(scratch_dir(out.parent, out.name))
        except OSError as e:
            msg = f"{out}: output folder is not writable ({e.strerror or e}); choose another --out"
            raise EdgenetError(msg) from None
        yield tmp


@contextlib.contextmanager
def scratch_dir(parent: Path, name: str) -> Iterator[Path]:
    """A private folder ``parent/.NAME.HOST.PID.XXXX.partial``, removed afterwards whatever happens; the ones that
    ``kill -9``'d writers of ``name`` left are removed first (their pid is in the name)."""
    _remove_stale(parent, name)
    tmp = Path(tempfile.mkdtemp(prefix=_prefix(name), suffix=".partial", dir=parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _same(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)  # also a hard link or a second mount of the file
    return a.resolve() == b.resolve()


def refuse_input_as_output(out: str | os.PathLike[str], option: str, inputs: dict[str, Path | None]) -> None:
    """An output that is one of the inputs (``{"--db": path}``) would overwrite it when written: refuse it."""
    out = Path(out)
    for name, path in inputs.items():
        if path is not None and _same(out, Path(path)):
            raise EdgenetError(f"{option} {out} is also {name}: writing it would destroy that input; choose another")


def refuse_output_inside(out: str | os.PathLike[str], option: str, folder: Path, name: str) -> None:
    """An output folder that is, or is inside, an input folder (``--data``) changes that input: refuse it."""
    out, folder = Path(out).resolve(), Path(folder).resolve()
    if out == folder or folder in out.parents:
        raise EdgenetError(
            f"{option} {out} is inside {name} {folder}: its files would join that input (a plot counted as an "
            "image by the next run); choose a folder outside it"
        )
