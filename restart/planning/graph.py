"""The order feature stacks restart in: a networkx DAG built from the UVL model's requirements.

networkx is imported inside the functions that need it: importing it costs ~150 ms, which
``splent-restart --help`` and runs without a UVL model should not pay.
"""
from __future__ import annotations

import os
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from restart.errors import ConfigError
from restart.planning.features import normalize_package
from restart.planning.uvl import UVLModel, requirements


@dataclass(frozen=True)
class Edge:
    """``after`` requires ``before``, so ``before`` restarts first; ``reason`` says where from."""

    before: str                        # node ids: the product's package names
    after: str
    reason: str                        # "demo_spl.uvl:14" or "demo_spl.uvl:14 via cache (:15)"
    lines: tuple[int, ...]             # the constraint lines of the chain, in order
    via: tuple[str, ...] = ()          # undeclared model features the requirement passed through


@dataclass(frozen=True)
class Order:
    """A stable topological order of the declared features, and what it rests on."""

    nodes: tuple[str, ...]                       # stable topological order
    generations: tuple[tuple[str, ...], ...]     # each sorted by declared index
    edges: tuple[Edge, ...]
    notes: tuple[str, ...]                       # "file:line: why no order", for -v
    needs: Mapping[str, frozenset[str]]          # node -> direct predecessors (DAG scheduling)


def order_features(declared: Sequence[str], model: UVLModel | None) -> Order:
    """Order the product's features so that each comes after every feature it requires.

    A UVL feature stands for the declared feature named by its ``package`` attribute, else by
    its own name, both compared by pip's rule (:func:`restart.planning.features.normalize_package`:
    ``Payments``, ``CONFIG_NET`` and ``splent-feature.x`` name ``payments``, ``config_net`` and
    ``splent_feature_x``).  A constraint that names a declared feature gives an edge or a note.
    When A requires B (see :func:`restart.planning.uvl.requirements`) the graph gets the edge B -> A.
    Requirements pass through model features the product does not declare
    (A => X, X => B gives B -> A "via X"), never through declared ones (the graph already
    chains those).  Features with no path between them keep their declared order.

    Parameters
    ----------
    declared : sequence of str
        The product's feature package names in pyproject order (duplicates: first one counts).
    model : UVLModel or None
        The product line's model; None means declared order, no edges.

    Returns
    -------
    Order
        ``nodes`` in a stable topological order, ``generations`` (each in declared order),
        the ``edges`` with their UVL lines, the ``notes`` on constraints that impose no order,
        and ``needs`` (node -> direct predecessors).

    Raises
    ------
    ConfigError
        If the requirements form a cycle; the message names it in UVL feature names,
        ``A -> B`` meaning A requires B, with the UVL line of each step.

    Examples
    --------
    >>> from restart.planning.uvl import parse_uvl
    >>> model = parse_uvl('''features
    ...     shop
    ...         optional
    ...             search {package 'splent_feature_search'}
    ...             cache
    ...             redis {package 'splent_feature_redis'}
    ... constraints
    ...     search => cache
    ...     cache => redis
    ... ''', "demo_spl.uvl")
    >>> order = order_features(["splent_feature_search", "splent_feature_redis"], model)
    >>> order.nodes
    ('splent_feature_redis', 'splent_feature_search')
    >>> order.edges[0].reason
    'demo_spl.uvl:8 via cache (:9)'
    >>> order.generations
    (('splent_feature_redis',), ('splent_feature_search',))
    """
    declared = list(dict.fromkeys(declared))
    index = {node: i for i, node in enumerate(declared)}
    if model is None:
        return Order(tuple(declared), (tuple(declared),) if declared else (), (), (),
                     {node: frozenset() for node in declared})

    # Lazy on purpose (~120 ms, most of the planning budget): only a product with a UVL model needs
    # the graph; planning one without a model, and --help, never load networkx.
    import networkx as nx

    src = os.path.basename(model.path)
    reqs, why = requirements(model)
    notes = [f"{src}:{line}: {text}" for line, text in why]
    declared_as: dict[str, str] = {}             # pip-normalised name -> declared node
    for node in declared:
        declared_as.setdefault(normalize_package(node), node)
    node_of: dict[str, str] = {}                 # UVL name -> declared node
    for feature in model.features.values():
        if (node := declared_as.get(normalize_package(feature.package))) is not None:
            node_of.setdefault(feature.name, node)
    needs_of: dict[str, list[tuple[str, int]]] = {}
    for r in reqs:
        needs_of.setdefault(r.feature, []).append((r.requires, r.line))
        for name in (r.feature, r.requires):     # a name the model lacks may still be a package
            if name not in model.features and (node := declared_as.get(normalize_package(name))):
                node_of.setdefault(name, node)
    short = {}                                   # node -> UVL name, for messages
    for name, node in node_of.items():
        short.setdefault(node, name)

    edges: dict[tuple[str, str], Edge] = {}
    reached: set[str] = set()                    # every UVL name some declared feature's chain reached
    for name, node in node_of.items():
        if name not in needs_of:
            continue
        queue = deque([(name, (), ())])          # breadth first: the shortest chain explains best
        seen = {name}
        while queue:
            current, via, lines = queue.popleft()
            for target, line in needs_of.get(current, ()):
                if target in seen:
                    continue
                seen.add(target)
                chain = (*lines, line)
                before = node_of.get(target)
                if before is None:
                    if not via:
                        notes.append(f"{src}:{line}: {name} requires {target}, which the product "
                                     "does not declare")
                    queue.append((target, (*via, target), chain))
                elif before == node:
                    notes.append(f"{src}:{chain[0]}: {name} requires itself through "
                                 f"{', '.join(via) or target}: no order")
                elif (before, node) not in edges:
                    edges[before, node] = Edge(before, node, _reason(src, chain, via), chain, via)
        reached |= seen
    for r in reqs:              # the rest of "never silence": an undeclared feature needs a declared one
        if r.requires in node_of and r.feature not in node_of and r.feature not in reached:
            notes.append(f"{src}:{r.line}: {r.feature} requires {r.requires}, but the product does not "
                         f"declare {r.feature} (nor anything that requires it): no order")

    ordered = tuple(sorted(edges.values(), key=lambda e: (index[e.after], index[e.before])))
    graph = nx.DiGraph()
    graph.add_nodes_from(declared)
    graph.add_edges_from((e.before, e.after) for e in ordered)
    try:
        nodes = tuple(nx.lexicographical_topological_sort(graph, key=index.__getitem__))
    except nx.NetworkXUnfeasible:
        raise ConfigError(_cycle_message(src, nx.find_cycle(graph), edges, short)) from None
    generations = tuple(tuple(sorted(gen, key=index.__getitem__))
                        for gen in nx.topological_generations(graph))
    needs = {node: frozenset(graph.predecessors(node)) for node in declared}
    return Order(nodes, generations, ordered, tuple(notes), needs)


def _reason(src: str, lines: tuple[int, ...], via: tuple[str, ...]) -> str:
    """``demo_spl.uvl:14``, or ``demo_spl.uvl:14 via cache (:15)`` for a pass-through chain."""
    hops = zip(via, lines[1:], strict=True)
    return f"{src}:{lines[0]}" + "".join(f" via {name} (:{line})" for name, line in hops)


def _cycle_message(src: str, cycle, edges: Mapping[tuple[str, str], Edge], short: Mapping[str, str]) -> str:
    """``demo_spl.uvl: dependency cycle: search -> redis -> search (demo_spl.uvl:14, :17)``.

    ``cycle`` is ``find_cycle``'s edge list (before -> after); it is read backwards, so each
    arrow means "requires", and rotated to start at the constraint that comes first in the file.
    """
    steps = [edges[before, after] for before, after in reversed(cycle)]   # after requires before
    first = min(range(len(steps)), key=lambda k: steps[k].lines)
    steps = steps[first:] + steps[:first]
    names = [short.get(e.after, e.after) for e in steps] + [short.get(steps[0].after, steps[0].after)]
    where = [_reason(src, e.lines, e.via)[len(src):] for e in steps]
    return (f"{src}: dependency cycle: {' -> '.join(names)} "
            f"({src}{where[0]}{''.join(', ' + w for w in where[1:])})")
