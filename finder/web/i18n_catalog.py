"""Adds the controlled-vocabulary labels to the message template (`make translations`).

They are looked up at run time (`i18n.vocab_label`), so `pybabel extract` cannot see them.

    python -m finder.web.i18n_catalog finder/translations/messages.pot
"""

from __future__ import annotations

import sys

from babel.messages.pofile import read_po, write_po

from finder.web.i18n import vocab_messages


def add_vocab_labels(pot_path: str) -> int:
    with open(pot_path, "rb") as f:
        catalog = read_po(f)
    added = 0
    for label in vocab_messages():
        if label not in catalog:
            catalog.add(label, locations=[("finder/vocab.py", 0)])
            added += 1
    with open(pot_path, "wb") as f:
        write_po(f, catalog, width=100)
    return added


if __name__ == "__main__":
    print(f"added {add_vocab_labels(sys.argv[1])} vocabulary labels")
