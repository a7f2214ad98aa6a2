"""A memo of the feature order, so that planning an unchanged product never imports networkx.

networkx's import costs ~110 ms on a small machine (its backend discovery reads every installed
distribution's entry points): more than the rest of the planning together, paid on every run,
while the order it computes depends only on

- the declared features, in declared order;
- the UVL model as parsed (its features, constraints and lines, and its file name, which is in
  every edge's reason: ``demo_spl.uvl:14``): the parsed value, not the file, so a file edited
  while it is read cannot pair one text's key with another text's order;
- restart's own ordering code (``graph.py``, ``uvl.py``, ``features.py``: a new release may
  order differently).

The memo is keyed on all three and kept in ``<workspace>/.splent_cache/restart/order/``, one
JSON file per key, written whole and renamed into place so two runs never read half a file.  It
is never a decision: a missing, unreadable or foreign memo means the order is computed again
(and a cycle, an error, is never stored).  An unwritable folder only means no memo.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

from restart.planning import features as _features
from restart.planning import graph as _graph
from restart.planning import uvl as _uvl
from restart.planning.graph import Edge, Order, order_features
from restart.planning.settings import CACHE_DIR, write_memo
from restart.planning.uvl import UVLModel

FOLDER = CACHE_DIR / "order"
FORMAT = "restart-order/1"
KEEP = 50                   # memo files kept; older ones are pruned on write


def _code() -> str:
    """The ordering code's own fingerprint: the source of the modules the order comes from."""
    digest = hashlib.sha256()
    for module in (_graph, _uvl, _features):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def memo_key(declared: Sequence[str], model: UVLModel) -> str:
    """sha256 of everything the order depends on (the dataclasses' repr is the parsed model, whole)."""
    parts = [FORMAT, _code(), json.dumps(list(declared)), repr(model)]
    return hashlib.sha256("\n".join(parts).encode(errors="surrogateescape")).hexdigest()


def ordered(workspace: Path, declared: Sequence[str], model: UVLModel) -> Order:
    """``order_features(declared, model)``, from the memo when these exact inputs were ordered before."""
    path = Path(workspace) / FOLDER / f"{memo_key(declared, model)}.json"
    order = _load(path)
    if order is None:
        order = order_features(declared, model)
        write_memo(path, to_data(order), KEEP)
    return order


def to_data(order: Order) -> dict:
    return {"format": FORMAT, "nodes": list(order.nodes), "generations": [list(g) for g in order.generations],
            "edges": [[e.before, e.after, e.reason, list(e.lines), list(e.via)] for e in order.edges],
            "notes": list(order.notes), "needs": {k: sorted(v) for k, v in order.needs.items()}}


def from_data(data: dict) -> Order:
    if data.get("format") != FORMAT:
        raise ValueError("another format")
    return Order(tuple(data["nodes"]), tuple(tuple(g) for g in data["generations"]),
                 tuple(Edge(b, a, r, tuple(lines), tuple(via)) for b, a, r, lines, via in data["edges"]),
                 tuple(data["notes"]), {k: frozenset(v) for k, v in data["needs"].items()})


def _load(path: Path) -> Order | None:
    try:
        return from_data(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
