"""--print-order on every corpus model with requirements, as a product that declares its features.

Each model is put in a workspace of its own (only ``pyproject.toml`` and the UVL file: issue 11
§4) whose product declares the model's features in REVERSE order (so declared order alone
never satisfies a requirement), spelt as the model spells them (``CONFIG_NET``, ``Payments``,
package attributes as written: both sides go through pip's normalisation).  Two declarations:
every feature, and every other one (so requirements must pass through undeclared features).

The expected edges are computed here, independently of restart.planning.uvl.requirements and
restart.planning.graph: from uvlparser's tree (the oracle of test_uvl) where it reads the file, else
from our parse's expression trees, with test_uvl's own re-implementation of the requires rule,
then closed through undeclared features by a plain search.  Every expected edge must be in
``--print-order --json`` (and no other), before must come first in the order; a model whose
expected graph has a cycle must exit 2 naming a real one.
"""
from __future__ import annotations

import graphlib
import json
import re

import pytest

from restart.cli import main
from restart.planning.features import normalize_package
from restart.planning.uvl import load_uvl
from tests.test_uvl import CORPUS, ORACLE_LIMIT, REJECTED, edges_from_shape, needs_corpus, oracle, shape

MODELS = [p for p in CORPUS if p.name not in REJECTED]
ENTRY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")       # what a pyproject entry's name may be


def expected_requirements(path, model) -> set[tuple[str, str]]:
    """(feature, required feature) in UVL names, from uvlparser's tree when it reads the file."""
    shapes = None
    if path.stat().st_size < ORACLE_LIMIT:
        found = oracle(path)
        if found is not None:
            shapes = found[1] + found[2]
    if shapes is None:                       # too big for the oracle, or one it rejects
        shapes = tuple(shape(c.expr) for c in model.constraints)
    return set().union(*(edges_from_shape(s) for s in shapes)) if shapes else set()


def package_of(feature) -> str:
    value = feature.attributes.get("package")
    return value if isinstance(value, str) else feature.name


def expected_edges(model, reqs, declared: set[str]) -> tuple[set[tuple[str, str]], dict[str, str]]:
    """(before, after) node pairs, closed through undeclared names; and UVL name -> node."""
    node = {}
    for f in model.features.values():
        if normalize_package(package_of(f)) in declared:
            node.setdefault(f.name, normalize_package(package_of(f)))
    for a, b in reqs:
        for name in (a, b):
            if name not in model.features and normalize_package(name) in declared:
                node.setdefault(name, normalize_package(name))
    needs: dict[str, set[str]] = {}
    for a, b in reqs:
        needs.setdefault(a, set()).add(b)
    edges = set()
    for name, after in node.items():
        stack, seen = list(needs.get(name, ())), {name}
        while stack:
            target = stack.pop()
            if target in seen:
                continue
            seen.add(target)
            if target in node:
                if node[target] != after:
                    edges.add((node[target], after))
            else:
                stack.extend(needs.get(target, ()))
    return edges, node


def declare(model, every: int) -> list[str]:
    """Entries for the model's features, reversed, as the model spells them; one per package."""
    entries, seen = [], set()
    for f in reversed(list(model.features.values())):
        raw = package_of(f)
        if ENTRY.fullmatch(raw) and normalize_package(raw) not in seen:
            seen.add(normalize_package(raw))
            entries.append(raw)
    return entries[::every]


def print_order(tmp_path, uvl_text: str, entries: list[str], capsys) -> tuple[int, str, str]:
    ws = tmp_path / "ws"
    (ws / "prod").mkdir(parents=True)
    (ws / "splent_spl_m").mkdir()
    (ws / "splent_spl_m" / "m.uvl").write_text(uvl_text, encoding="utf-8")
    listed = "".join(f'\n    "{e}",' for e in entries)
    (ws / "prod" / "pyproject.toml").write_text(
        f'[project]\nname = "prod"\n\n[tool.splent]\nspl = "m"\nfeatures = [{listed}\n]\n')
    code = main(["--workspace", str(ws), "--product", "prod", "--dev", "--print-order", "--json"])
    out = capsys.readouterr()
    return code, out.out, out.err


@needs_corpus
@pytest.mark.parametrize("every", [1, 2], ids=["all-declared", "every-other-declared"])
@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name[:60])
def test_every_requirement_holds_in_print_order(path, every, tmp_path, capsys, monkeypatch):
    for name in ("WORKING_DIR", "SPLENT_APP", "SPLENT_ENV"):
        monkeypatch.delenv(name, raising=False)
    model = load_uvl(path)
    reqs = expected_requirements(path, model)
    if not reqs:
        pytest.skip("no requirements in this model")
    entries = declare(model, every)
    edges, node = expected_edges(model, reqs, {normalize_package(e) for e in entries})
    code, out, err = print_order(tmp_path, path.read_text(encoding="utf-8"), entries, capsys)

    graph: dict[str, set[str]] = {}
    for before, after in edges:
        graph.setdefault(after, set()).add(before)
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError:
        assert code == 2, (code, err[-500:])
        found = re.search(r"dependency cycle: (.+?) \(", err)
        assert found, err
        names = found[1].split(" -> ")
        assert names[0] == names[-1] and len(names) >= 3, names
        for a, b in zip(names, names[1:], strict=False):                 # a requires b: b's node before a's
            assert (node[b], node[a]) in edges, (a, b)
        return
    assert code == 0, err[-500:]
    data = json.loads(out)
    got = {(e["before"], e["after"]) for e in data["edges"]}
    assert got == edges, (sorted(edges - got)[:5], sorted(got - edges)[:5])
    position = {n: i for i, n in enumerate(n for gen in data["generations"] for n in gen)}
    assert len(position) == len(entries)
    assert all(position[before] < position[after] for before, after in edges)


@needs_corpus
def test_the_corpus_has_models_with_requirements_and_a_cycle():
    """Guard: the parametrised test above is not vacuous."""
    with_reqs = [p for p in MODELS if p.stat().st_size < ORACLE_LIMIT
                 and any(" => " in line for line in p.read_text(encoding="utf-8").splitlines())]
    assert len(with_reqs) >= 10
    assert any("CYCLIC" in p.name for p in MODELS)
