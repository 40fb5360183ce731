"""`normalize`: clean the text of every row so later steps compare like with like.

For `problem`, `answer` and `solution`: Unicode NFC (composed accents; NFKC is not used because it would turn
`x²` into `x2`), zero-width and byte-order characters removed, `\\r\\n`/`\\r` to `\\n`, trailing spaces of every line
removed, three or more newlines collapsed to two, leading/trailing whitespace stripped. A row whose problem is then
empty is removed (`empty problem`).
"""

from __future__ import annotations

import re
import unicodedata

from openrs.data.curation.base import Removal, Row, StepOutput

__all__ = ["normalize", "normalize_text"]

_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_BLANK_LINES = re.compile(r"\n{3,}")
_TEXT_COLUMNS = ("problem", "answer", "solution")


def normalize_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    return _BLANK_LINES.sub("\n\n", _TRAILING_SPACE.sub("\n", text)).strip()


def normalize(rows: list[Row]) -> StepOutput:
    """Normalised copies of the rows (see the module docstring); rows with an empty problem are removed."""
    kept: list[Row] = []
    removed: list[Removal] = []
    changed = 0
    for row in rows:
        new = dict(row)
        for column in _TEXT_COLUMNS:
            if isinstance(row.get(column), str):
                new[column] = normalize_text(row[column]) or None
        changed += any(new.get(c) != row.get(c) for c in _TEXT_COLUMNS)
        if not new.get("problem"):
            removed.append(Removal(row, "empty problem"))
            continue
        kept.append(new)
    return StepOutput(kept, removed, {"rows_changed": changed})
