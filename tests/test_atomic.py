"""edgenet.atomic: whole-set publishing, a user's files carried over, and SIGKILL at every step of it.

The kill tests run a child process that stages a set and publishes it, SIGKILLing itself at one chosen point
(no ``finally`` runs, as with ``kill -9``); afterwards ``out`` must hold exactly the complete old set or exactly the
complete new set, and the next publish must leave nothing but ``out`` behind.
"""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edgenet import atomic
from edgenet.atomic import atomic_path, publish_dir, staging_dir, write_text_atomic
from edgenet.errors import EdgenetError

REPO = Path(__file__).resolve().parents[1]
OLD = {"report.json": "old report", "model.onnx": "old onnx", "model_fp16.tflite": "old fp16"}
NEW = {"report.json": "new report", "model.onnx": "new onnx", "model_fp32.tflite": "new fp32"}
OWNED = {"report.json", "model.onnx", "model_fp16.tflite", "model_fp32.tflite"}
USER = {"notes.txt": "mine", "data/a.bin": "user data", "data/deeper/b.bin": "more"}


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path → content digest (or link target) of everything under ``folder``."""
    files = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_symlink():
            files[rel] = "-> " + os.readlink(p)
        elif p.is_file():
            files[rel] = hashlib.sha256(p.read_bytes()).hexdigest()[:16]
    return files


def write_set(folder: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)


def expected(files: dict[str, str], with_user: bool = True) -> dict[str, str]:
    """What ``snapshot`` gives for a folder holding ``files`` (and the user's files and link)."""
    full = {**files, **(USER if with_user else {})}
    want = {rel: hashlib.sha256(text.encode()).hexdigest()[:16] for rel, text in full.items()}
    return {**want, "link": "-> notes.txt"} if with_user else want


@pytest.fixture
def old_out(tmp_path) -> Path:
    """``tmp_path/out`` holding an earlier run's set plus a user's file, folder and symlink."""
    out = tmp_path / "out"
    write_set(out, {**OLD, **USER})
    (out / "link").symlink_to("notes.txt")
    out.chmod(0o750)
    return out


def test_publish_swaps_in_the_whole_set_and_carries_user_files(old_out, tmp_path):
    user_inode = (old_out / "notes.txt").stat().st_ino
    with staging_dir(old_out) as stage:
        write_set(stage, NEW)
        published = publish_dir(stage, old_out, owned=OWNED)
    assert published == [old_out / name for name in sorted(NEW)]
    # model_fp16.tflite (owned, not rebuilt) is gone; the user's entries are there, the file the very same inode
    assert snapshot(old_out) == expected(NEW)
    assert (old_out / "notes.txt").stat().st_ino == user_inode
    assert oct(old_out.stat().st_mode & 0o777) == oct(0o750)  # the folder keeps its permissions
    assert sorted(os.listdir(tmp_path)) == ["out"]  # the old folder and the staging folder are gone


def test_without_owned_names_earlier_files_are_kept(old_out):
    """bundle and eval pass no owned names: like before, an earlier file this run did not write stays."""
    with staging_dir(old_out) as stage:
        write_set(stage, NEW)
        publish_dir(stage, old_out)
    assert snapshot(old_out) == {**expected(NEW), **{"model_fp16.tflite": expected(OLD, False)["model_fp16.tflite"]}}


def test_first_publish_creates_the_folder_with_the_usual_permissions(tmp_path):
    out = tmp_path / "new" / "out"
    with staging_dir(out) as stage:
        write_set(stage, NEW)
        publish_dir(stage, out, owned=OWNED)
    assert snapshot(out) == expected(NEW, with_user=False)
    assert out.stat().st_mode & 0o777 == 0o777 & ~_umask()
    assert sorted(os.listdir(out.parent)) == ["out"]


def test_two_rename_fallback_gives_the_same_result(old_out, tmp_path, monkeypatch):
    """Where renameat2(RENAME_EXCHANGE) is missing (macOS, old kernels, some filesystems)."""
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    with staging_dir(old_out) as stage:
        write_set(stage, NEW)
        publish_dir(stage, old_out, owned=OWNED)
    assert snapshot(old_out) == expected(NEW)
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_symlinked_out_is_swapped_at_its_target(old_out, tmp_path):
    link = tmp_path / "current"
    link.symlink_to(old_out)
    with staging_dir(link) as stage:
        write_set(stage, NEW)
        publish_dir(stage, link, owned=OWNED)
    assert link.is_symlink() and snapshot(link) == expected(NEW)


def test_out_holding_the_current_folder_is_refused(old_out, monkeypatch):
    monkeypatch.chdir(old_out / "data")
    with pytest.raises(EdgenetError, match=r"holds\) the current folder.*--out .*/model"), staging_dir(old_out):
        pass
    assert snapshot(old_out) == expected(OLD)


def test_out_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(EdgenetError, match="not writable"), staging_dir(tmp_path / "f"):
        pass


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --------------------------------------------------------------------------------------------- SIGKILL, for real

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from edgenet import atomic

    out, point = Path(sys.argv[1]), sys.argv[2]
    OWNED = {owned!r}
    NEW = {new!r}

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def after(name, nth=1):  # SIGKILL right after the nth call of atomic.<name> (or os.<name>) returns
        mod = atomic.os if hasattr(atomic.os, name) and not hasattr(atomic, name) else atomic
        real, calls = getattr(mod, name), [0]
        def wrapped(*a, **k):
            r = real(*a, **k)
            calls[0] += 1
            if calls[0] == nth:
                die()
            return r
        setattr(mod, name, wrapped)

    if point == "carrying":
        after("link")  # one user file linked into the new set, the rest not yet
    elif point == "swapped":
        after("_exchange")  # the new set is --out, the old one not yet removed
    elif point in ("renamed-away", "renamed-in"):
        atomic._exchange = lambda a, b: False  # the two-rename fallback
        after("rename", 1 if point == "renamed-away" else 2)
    with atomic.staging_dir(out) as stage:
        (stage / "report.json").write_text("new rep")  # a half-written set
        if point == "staging":
            die()
        for name, text in NEW.items():
            (stage / name).write_text(text)
        atomic.publish_dir(stage, out, owned=OWNED)
    """
).format(owned=OWNED, new=NEW)


def run_child(out: Path, point: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", CHILD, str(out), point], env=env, capture_output=True, timeout=60)


@pytest.mark.parametrize(
    ("point", "survivor"),
    [
        ("staging", OLD),
        ("carrying", OLD),
        ("swapped", NEW),
        ("renamed-in", NEW),
        ("renamed-away", OLD),  # --out absent until the next run puts the complete old set back
    ],
)
def test_sigkill_leaves_old_or_new_set_and_the_next_run_cleans_up(old_out, tmp_path, point, survivor):
    r = run_child(old_out, point)
    assert r.returncode == -signal.SIGKILL, r.stderr.decode()
    leftovers = [n for n in os.listdir(tmp_path) if n != "out"]
    assert leftovers and all(n.startswith(f".out.{atomic._host()}.") for n in leftovers), leftovers
    if point != "renamed-away":
        assert snapshot(old_out) == expected(survivor)
    else:
        assert not old_out.exists()

    with staging_dir(old_out) as stage:  # the next run: cleans up (or restores) first
        assert sorted(os.listdir(tmp_path)) == sorted(["out", stage.name])
        assert snapshot(old_out) == expected(survivor)
        write_set(stage, {"report.json": "third report"})
        publish_dir(stage, old_out, owned=OWNED)
    assert snapshot(old_out) == expected({"report.json": "third report"})
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_a_live_run_s_staging_folder_is_never_removed(old_out, tmp_path):
    with staging_dir(old_out) as mine, staging_dir(old_out) as second:  # same pid: alive
        assert mine.is_dir() and second.is_dir()
    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid now names no process
    dead_here = tmp_path / f".out.{atomic._host()}.{gone.pid}.abcdefgh.partial"
    other_host = tmp_path / f".out.elsewhere.{gone.pid}.abcdefgh.partial"  # another machine on a shared filesystem
    dead_here.mkdir()
    other_host.mkdir()
    with staging_dir(old_out):
        pass
    assert other_host.is_dir() and not dead_here.exists()


def test_killed_atomic_write_leaves_a_tmp_that_the_next_write_removes(tmp_path):
    dest = tmp_path / "last.pt"
    code = textwrap.dedent(
        """
        import os, signal, sys
        from edgenet.atomic import atomic_path
        with atomic_path(sys.argv[1]) as tmp:
            tmp.write_bytes(b"half")
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    write_text_atomic(dest, "good")
    r = subprocess.run([sys.executable, "-c", code, str(dest)], env=env, capture_output=True, timeout=60)
    assert r.returncode == -signal.SIGKILL, r.stderr.decode()
    assert dest.read_text() == "good" and len(os.listdir(tmp_path)) == 2
    with atomic_path(dest) as tmp:
        tmp.write_text("newer")
    assert sorted(os.listdir(tmp_path)) == ["last.pt"] and dest.read_text() == "newer"


# ---------------------------------------------------------------------------------------------- issue 26.1
def test_a_symlinked_file_is_written_through_and_the_link_stays(tmp_path):
    """Before: the new file was renamed over the link itself; the link's target kept the old content."""
    target_dir = tmp_path / "real"
    target_dir.mkdir()
    (target_dir / "report.html").write_text("old")
    link = tmp_path / "report.html"
    link.symlink_to(target_dir / "report.html")
    write_text_atomic(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(target_dir / "report.html")
    assert (target_dir / "report.html").read_text() == "new"
    dangling = tmp_path / "later.md"
    dangling.symlink_to(target_dir / "later.md")  # a link to a file not written yet
    write_text_atomic(dangling, "first")
    assert dangling.is_symlink() and (target_dir / "later.md").read_text() == "first"
    assert sorted(p.name for p in target_dir.iterdir()) == ["later.md", "report.html"]  # no temporary left


def _char_device(tmp_path: Path) -> Path:
    dev = tmp_path / "null"
    try:
        os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, OSError):
        dev.symlink_to("/dev/null")  # the same kind of node, reached through a link
    return dev


@pytest.mark.parametrize("kind", ["fifo", "chardev", "link-to-chardev", "socket"])
def test_anything_but_a_regular_file_is_refused(tmp_path, kind):
    """Before: a FIFO, a socket or a device node given as the output was replaced by an HTML file."""
    import socket as socketlib

    dest = tmp_path / "out.html"
    if kind == "fifo":
        os.mkfifo(dest)
    elif kind == "chardev":
        dest = _char_device(tmp_path)
    elif kind == "link-to-chardev":
        dest.symlink_to("/dev/null")
    else:
        sock = socketlib.socket(socketlib.AF_UNIX)
        sock.bind(str(dest))
    before = dest.lstat()
    for call in (lambda: write_text_atomic(dest, "x"), lambda: atomic.check_writable_file(dest, "--out")):
        with pytest.raises(EdgenetError, match="not a regular file"):
            call()
    after = dest.lstat()
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)  # the same node, untouched
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_symlink_to_a_folder_or_a_loop_is_refused(tmp_path):
    (tmp_path / "dir").mkdir()
    (tmp_path / "to-dir").symlink_to(tmp_path / "dir")
    with pytest.raises(EdgenetError, match="is a folder"):
        write_text_atomic(tmp_path / "to-dir", "x")
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(EdgenetError, match="a loop"):
        write_text_atomic(tmp_path / "a", "x")
    assert (tmp_path / "a").is_symlink() and (tmp_path / "b").is_symlink()
