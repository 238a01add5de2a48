"""Give every row of the paraphrase benchmark a fixed `split` (dev or test), balanced per label, by text hash.

Run once after adding rows: `python bench/paraphrase/split.py`. Rows that already have a split keep it, so the
test half never changes under a tuned rule; new rows are assigned by the parity of their rank in sha256 order.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
HEADER = "split\tlabel\ttext\tsource"
NOTE = "# split: dev = rules may be tuned on these rows; test = held out, never tuned on (bench/paraphrase/README.md)"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def split_file(path: Path) -> None:
    """Add the split column to one file (idempotent)."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    header, rows = lines[0].split("\t"), [line.split("\t") for line in lines[1:]]
    if header[0] == "split":
        return
    by_label: dict[str, list[list[str]]] = {}
    for row in rows:
        by_label.setdefault(row[0], []).append(row)
    split_of: dict[str, str] = {}
    for group in by_label.values():
        for rank, row in enumerate(sorted(group, key=lambda r: _digest(r[1]))):
            split_of[row[1]] = "dev" if rank % 2 == 0 else "test"
    out = [NOTE, HEADER, *("\t".join([split_of[row[1]], *row]) for row in rows)]
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def main() -> None:
    for path in sorted(DATA.glob("*.tsv")):
        split_file(path)
        print(f"{path.name}: split")


if __name__ == "__main__":
    main()
