"""`edgenet bundle` with hostile file, model and class names: the generated Kotlin and Swift keep the token structure
of a benign bundle (a strict tokenizer of the subset the snippets use), string literals decode to the exact name,
and the model card stays one table row per field."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from test_bundle import converted_dir

from edgenet.errors import EdgenetError
from edgenet.workflows.bundle import bundle

HOSTILE = [
    'x\nval injected = Runtime.getRuntime().exec("id")\nval y = 1;.tflite',
    'q"uote\\back$slash${dollar}\\(interp)#"raw".tflite',
    "ls\u2028sep\u2029para\rcr\x0bvt\x85nel.tflite",
    "*\\ \u2215* block `tick` | pipe <script>alert(1)<\\script> *\u2215.tflite",
    "trojan\u202e\u2066 }; admin = true \u2069\u2066.tflite",  # bidi overrides reorder what an editor shows
]
BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
BENIGN_FILE, BENIGN_MODEL = "model_int8.tflite", "tiny_net"


class Unparseable(AssertionError):
    pass


def tokens(src: str, lang: str) -> list[tuple[str, str]]:
    """(kind, text) of a Kotlin or Swift source: comments, string literals (decoded), identifiers, numbers, symbols.

    Strict: a raw line break inside a string, an unknown escape, or a template (``$x``/``${`` in Kotlin, ``\\(``
    in Swift) inside a literal raises — the generator never emits one."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if c in " \t\n\r":
            i += 1
        elif src.startswith("//", i):
            j = i
            while j < n and src[j] not in "\n\r":
                j += 1
            out.append(("comment", src[i:j]))
            i = j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            if j < 0:
                raise Unparseable("unterminated block comment")
            out.append(("comment", src[i : j + 2]))
            i = j + 2
        elif c == '"':
            text, i = _string(src, i + 1, lang)
            out.append(("string", text))
        elif c.isalpha() or c == "_":
            j = i
            while j < n and (src[j].isalnum() or src[j] == "_"):
                j += 1
            out.append(("name", src[i:j]))
            i = j
        elif c.isdigit():
            m = re.match(r"0x[0-9A-Fa-f]+|\d+(\.\d+)?([eE][+-]?\d+)?f?", src[i:])
            out.append(("number", m.group()))
            i += m.end()
        else:
            out.append(("symbol", c))
            i += 1
    return out


def _string(src: str, i: int, lang: str) -> tuple[str, int]:
    simple = {"t": "\t", "n": "\n", "r": "\r", '"': '"', "\\": "\\", "'": "'"}
    simple |= {"$": "$", "b": "\b"} if lang == "kotlin" else {"0": "\0"}
    text = []
    while True:
        if i >= len(src) or src[i] in "\n\r":
            raise Unparseable(f"string literal not closed on its line: {''.join(text)!r}")
        c = src[i]
        if c == '"':
            return "".join(text), i + 1
        if lang == "kotlin" and c == "$" and i + 1 < len(src) and (src[i + 1].isalpha() or src[i + 1] in "_{"):
            raise Unparseable(f"string template in a literal: {src[i : i + 12]!r}")
        if c != "\\":
            text.append(c)
            i += 1
            continue
        e = src[i + 1]
        if e in simple:
            text.append(simple[e])
            i += 2
        elif lang == "kotlin" and e == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", src[i + 2 : i + 6]):
            text.append(chr(int(src[i + 2 : i + 6], 16)))
            i += 6
        elif lang == "swift" and (m := re.match(r"u\{([0-9a-fA-F]{1,8})\}", src[i + 1 :])):
            text.append(chr(int(m[1], 16)))
            i += 1 + m.end()
        else:
            raise Unparseable(f"escape \\{e} in a {lang} literal (interpolation or invalid)")


def structure(toks: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Tokens with comment and string contents blanked: what must not depend on a name."""
    return [(k, "" if k in ("comment", "string") else t) for k, t in toks]


def make(tmp_path: Path, file: str, model: str, classes=("a", "b", "c", "d", "e")) -> Path:
    d = converted_dir(tmp_path, classes=classes)
    report = json.loads((d / "report.json").read_text())
    (d / "report.json").write_text(json.dumps({**report, "model": model}))
    if file != "model_int8.tflite":
        shutil.move(d / "model_int8.tflite", d / file)
    return d / file


@pytest.fixture(scope="module")
def benign(tmp_path_factory) -> dict[str, list]:
    tmp = tmp_path_factory.mktemp("benign")
    bundle(make(tmp, BENIGN_FILE, BENIGN_MODEL), tmp / "app")
    return {
        lang: tokens((tmp / "app" / f"EdgenetClassifier.{ext}").read_text(encoding="utf-8"), lang)
        for lang, ext in (("kotlin", "kt"), ("swift", "swift"))
    }


IDS = ["newline-statement", "quotes-templates", "unicode-breaks", "markup", "bidi"]


@pytest.mark.parametrize("name", HOSTILE, ids=IDS)
def test_hostile_names_cannot_change_the_generated_code(tmp_path, benign, name):
    model = bundle(make(tmp_path, name, "net" + name), tmp_path / "app")
    assert name in model.files
    for lang, ext in (("kotlin", "kt"), ("swift", "swift")):
        text = (tmp_path / "app" / f"EdgenetClassifier.{ext}").read_text(encoding="utf-8")
        toks = tokens(text, lang)
        assert not BIDI & set(text), f"{lang}: a bidirectional control reached the source"
        assert structure(toks) == structure(benign[lang]), f"{lang}: the name changed the token structure"
        assert "injected" not in [t for k, t in toks if k == "name"]
        if lang == "kotlin":  # MODEL_FILE holds the exact name, so the asset is still found
            i = toks.index(("name", "MODEL_FILE"))
            assert toks[i + 2] == ("string", name)
    card = (tmp_path / "app" / "MODEL_CARD.md").read_text(encoding="utf-8")
    rows = [line for line in card.splitlines() if line.startswith("| model |") or line.startswith("| file |")]
    assert len(rows) == 2 and all(row.count("|") - row.count("\\|") == 3 for row in rows)
    assert "<script>" not in card


def test_the_tokenizer_catches_what_the_old_generator_emitted():
    """Guard for the test itself: the unescaped output of the old generator fails it."""
    name = HOSTILE[0]
    comment = tokens(f"// generated for {name}\n", "kotlin")
    assert ("name", "injected") in comment  # the newline ended the comment: a statement follows
    with pytest.raises(Unparseable):
        tokens(f'const val MODEL_FILE = "{name}"', "kotlin")
    with pytest.raises(Unparseable):
        tokens('val s = "a${b}"', "kotlin")
    with pytest.raises(Unparseable):
        tokens('let s = "a\\(b)"', "swift")


def test_a_class_name_with_a_line_break_is_refused(tmp_path):
    src = make(tmp_path, BENIGN_FILE, BENIGN_MODEL, classes=())
    report = json.loads((src.parent / "report.json").read_text())
    classes = ["a", "b\nval x = 1", "c", "d", "e"]
    (src.parent / "report.json").write_text(json.dumps({**report, "classes": classes}))
    with pytest.raises(EdgenetError, match=r"class 1 .* holds a line break"):
        bundle(src, tmp_path / "app")
    assert not (tmp_path / "app").exists()
