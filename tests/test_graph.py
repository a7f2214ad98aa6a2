"""restart.planning.graph: edges from requirements, pass-through, stable order, cycle messages."""
from __future__ import annotations

import doctest
import os
import subprocess
import sys
from pathlib import Path

import pytest

import restart.planning.graph
from restart.errors import ConfigError
from restart.planning.graph import Edge, order_features
from restart.planning.uvl import load_uvl, parse_uvl

RESEARCH = Path(os.environ.get("RESTART_UVL_RESEARCH")
                or Path(__file__).resolve().parents[2] / "shared" / "research")
CYCLIC = RESEARCH / "uvl-corpus" / "splent_framework__test_feature_order__CYCLIC_UVL.uvl"
SAMPLE = RESEARCH / "uvl-splent" / "splent-io_splent_catalog__sample_splent_spl__e6b325b.uvl"


def spl(leaves: str, constraints: str, path: str = "demo_spl.uvl"):
    """A SPLENT-style model: ``leaves`` are "name" or "name pkg" words, one per line."""
    lines = ["features", "\tdemo_spl", "\t\toptional"]
    for leaf in leaves.split(","):
        name, *package = leaf.split()
        lines.append(f"\t\t\t{name}" + (f" {{org 'splent-io', package '{package[0]}'}}" if package else ""))
    lines.append("constraints")
    lines += [f"\t{c.strip()}" for c in constraints.split(";") if c.strip()]
    return parse_uvl("\n".join(lines) + "\n", path)


def pkg(*names: str) -> list[str]:
    return [f"splent_feature_{n}" for n in names]


def leaves(*names: str) -> str:
    return ",".join(f"{n} splent_feature_{n}" for n in names)


def short(order) -> list[str]:
    return [n.removeprefix("splent_feature_") for n in order.nodes]


def test_no_model_keeps_declared_order():
    order = order_features(pkg("b", "a", "c", "a"), None)
    assert order.nodes == tuple(pkg("b", "a", "c"))
    assert order.generations == (tuple(pkg("b", "a", "c")),)
    assert order.edges == () and order.notes == ()
    assert order.needs == {n: frozenset() for n in pkg("b", "a", "c")}
    assert order_features([], None).generations == ()


def test_sample_splent_model():
    declared = pkg("auth", "public", "redis", "mail", "confirmemail", "profile", "reset")
    order = order_features(declared, load_uvl(SAMPLE))
    assert order.nodes == tuple(declared)           # already a valid order: nothing moves
    assert order.generations == (tuple(pkg("auth", "public", "redis", "mail")),
                                 tuple(pkg("confirmemail", "profile", "reset")))
    name = SAMPLE.name
    assert [(e.before, e.after, e.reason) for e in order.edges] == [
        ("splent_feature_auth", "splent_feature_confirmemail", f"{name}:21"),
        ("splent_feature_mail", "splent_feature_confirmemail", f"{name}:19"),
        ("splent_feature_auth", "splent_feature_profile", f"{name}:18"),
        ("splent_feature_auth", "splent_feature_reset", f"{name}:22"),
        ("splent_feature_mail", "splent_feature_reset", f"{name}:20"),
    ]
    assert order.needs["splent_feature_reset"] == frozenset(pkg("auth", "mail"))
    assert order.needs["splent_feature_auth"] == frozenset()


def test_dependencies_move_forward_and_the_rest_keeps_declared_order():
    model = spl(leaves("web", "cache", "redis", "mail", "auth"), "web => redis; cache => redis")
    order = order_features(pkg("web", "cache", "mail", "redis", "auth"), model)
    # each feature comes as early as its dependencies allow, ties broken by declared order
    assert short(order) == ["mail", "redis", "web", "cache", "auth"]
    assert order.generations == (tuple(pkg("mail", "redis", "auth")), tuple(pkg("web", "cache")))


def test_order_is_stable_for_independent_features():
    model = spl(leaves("a", "b", "c", "d"), "a <=> b")
    for declared in (pkg("d", "c", "b", "a"), pkg("b", "d", "a", "c")):
        order = order_features(declared, model)
        assert order.nodes == tuple(declared) and order.edges == ()
        assert order.generations == (tuple(declared),)


def test_feature_maps_by_package_attribute_else_by_name():
    model = parse_uvl("features\n\tp\n\t\toptional\n\t\t\tsearch {package 'splent_feature_search'}\n"
                      "\t\t\tsplent_feature_redis\n\t\t\tredis\n"
                      "constraints\n\tsearch => splent_feature_redis\n\tsearch => redis\n", "m.uvl")
    order = order_features(pkg("search", "redis"), model)
    assert [(e.before, e.after, e.reason) for e in order.edges] == [
        ("splent_feature_redis", "splent_feature_search", "m.uvl:8")]
    assert order.nodes == tuple(pkg("redis", "search"))
    assert "m.uvl:9: search requires redis, which the product does not declare" in order.notes


def test_requirements_pass_through_undeclared_features():
    model = spl(leaves("app", "search", "cache", "store", "redis"),
                "app => search; search => cache; cache => store; store => redis")
    order = order_features(pkg("redis", "app"), model)
    assert order.edges == (Edge("splent_feature_redis", "splent_feature_app",
                                "demo_spl.uvl:10 via search (:11) via cache (:12) via store (:13)",
                                (10, 11, 12, 13), ("search", "cache", "store")),)
    assert order.nodes == tuple(pkg("redis", "app"))
    assert order.needs == {"splent_feature_app": frozenset({"splent_feature_redis"}),
                           "splent_feature_redis": frozenset()}


def test_pass_through_takes_the_shortest_chain_and_survives_undeclared_cycles():
    model = spl(leaves("a", "x", "y", "b"), "a => x; x => y; y => x; x => b; y => b")
    (edge,) = order_features(pkg("a", "b"), model).edges
    assert (edge.before, edge.after, edge.via, edge.lines) == ("splent_feature_b", "splent_feature_a",
                                                             ("x",), (9, 12))
    assert edge.reason == "demo_spl.uvl:9 via x (:12)"


def test_no_pass_through_declared_features():
    model = spl(leaves("a", "b", "c"), "a => b; b => c")
    order = order_features(pkg("a", "b", "c"), model)
    assert [(e.before, e.after) for e in order.edges] == [
        ("splent_feature_b", "splent_feature_a"), ("splent_feature_c", "splent_feature_b")]
    assert short(order) == ["c", "b", "a"]
    assert len(order.generations) == 3


def test_undeclared_dead_end_is_a_note_not_an_edge():
    model = spl(leaves("confirmemail", "mail", "auth"), "confirmemail => mail; confirmemail => auth")
    order = order_features(pkg("auth", "confirmemail"), model)
    assert [(e.before, e.after) for e in order.edges] == [
        ("splent_feature_auth", "splent_feature_confirmemail")]
    assert order.notes == ("demo_spl.uvl:8: confirmemail requires mail, which the product does not declare",)


def test_constraint_names_outside_the_model():
    model = spl(leaves("auth"), "splent_feature_profile => auth; ghost => auth")
    order = order_features(pkg("auth", "profile"), model)
    assert [(e.before, e.after, e.reason) for e in order.edges] == [
        ("splent_feature_auth", "splent_feature_profile", "demo_spl.uvl:6")]
    assert order.notes == (
        "demo_spl.uvl:6: splent_feature_profile is named in a constraint but is not a feature of the model",
        "demo_spl.uvl:7: ghost is named in a constraint but is not a feature of the model",
        "demo_spl.uvl:7: ghost requires auth, but the product does not declare ghost (nor anything that "
        "requires it): no order",
    )


def test_names_and_package_attributes_match_by_pips_rule():
    """Feature names and package attributes in any case or -_. spelling name the normalised entries."""
    model = parse_uvl("""features
    Shop
        optional
            Payments
            CONFIG_NET
            F_4A2B {package 'Splent-Feature.Cache'}
            Orders {package "splent_feature__ORDERS"}
constraints
    Payments => CONFIG_NET
    CONFIG_NET => F_4A2B
    Orders => Payments
""", "m.uvl")
    order = order_features(["splent_feature_orders", "payments", "splent_feature_cache", "config_net"], model)
    assert order.nodes == ("splent_feature_cache", "config_net", "payments", "splent_feature_orders")
    assert {(e.before, e.after) for e in order.edges} == {
        ("config_net", "payments"), ("splent_feature_cache", "config_net"), ("payments", "splent_feature_orders")}


def test_undeclared_feature_requiring_a_declared_one_is_a_note():
    model = spl(leaves("auth", "ghost"), "ghost => auth")
    order = order_features(pkg("auth"), model)
    assert order.edges == ()
    assert order.notes == ("demo_spl.uvl:7: ghost requires auth, but the product does not declare ghost "
                           "(nor anything that requires it): no order",)


def test_notes_explain_constraints_without_order():
    model = spl(leaves("a", "b", "c"), "a <=> b; a => b | c; !c; (a & b) => c")
    order = order_features(pkg("a", "b", "c"), model)
    assert order.edges == ()
    assert order.notes == (
        "demo_spl.uvl:8: a <=> b: an equivalence (<=>) imposes no order",
        "demo_spl.uvl:9: a => b | c: b | c on the right is a disjunction (one of them is enough): "
        "no order from it",
        "demo_spl.uvl:10: !c: a negation (an exclusion) imposes no order",
        "demo_spl.uvl:11: a & b => c: the left side is not a feature or a disjunction of features: no order",
    )


def test_multi_line_and_nested_constraints_order_too():
    model = spl(leaves("web", "redis", "db", "mail"), "web => (redis &; (db & mail))".replace(";", "\n\t\t"))
    order = order_features(pkg("web", "redis", "db", "mail"), model)
    assert short(order) == ["redis", "db", "mail", "web"]
    assert {e.reason for e in order.edges} == {"demo_spl.uvl:9"}


def test_cycle_message_names_the_cycle_with_lines():
    text = "\n".join(["features", "\tdemo_spl", "\t\toptional",
                      "\t\t\tredis {org 'splent-io', package 'splent_feature_redis'}",
                      "\t\t\tsearch {org 'splent-io', package 'splent_feature_search'}",
                      *["\t\t\t// filler"] * 7, "constraints", "\tsearch => redis", "", "",
                      "\tredis => search", ""])
    model = parse_uvl(text, "/ws/splent_spl_demo/demo_spl.uvl")
    for declared in (pkg("redis", "search"), pkg("search", "redis")):
        with pytest.raises(ConfigError) as info:
            order_features(declared, model)
        assert str(info.value) == ("demo_spl.uvl: dependency cycle: search -> redis -> search "
                                   "(demo_spl.uvl:14, :17)")
        assert info.value.exit_code == 2


def test_longer_cycle_starts_at_its_first_constraint_and_shows_pass_through():
    model = spl(leaves("a", "b", "c", "x"), "c => a; a => b; b => x; x => c")
    with pytest.raises(ConfigError) as info:
        order_features(pkg("a", "b", "c"), model)
    assert str(info.value) == ("demo_spl.uvl: dependency cycle: c -> a -> b -> c "
                               "(demo_spl.uvl:9, :10, :11 via x (:12))")


def test_cycle_in_splent_framework_fixture():
    with pytest.raises(ConfigError) as info:
        order_features(["feature_a", "feature_b"], load_uvl(CYCLIC))
    assert str(info.value) == (f"{CYCLIC.name}: dependency cycle: a -> b -> a ({CYCLIC.name}:8, :9)")


def test_cycle_among_undeclared_features_is_harmless():
    model = spl(leaves("a", "x", "y"), "x => y; y => x; a => x")
    order = order_features(pkg("a"), model)
    assert order.nodes == tuple(pkg("a")) and order.edges == ()


def test_diamond_generations_and_needs():
    model = spl(leaves("top", "left", "right", "base"),
                "top => left & right; left => base; right => base")
    order = order_features(pkg("top", "right", "left", "base"), model)
    assert order.generations == ((pkg("base")[0],), tuple(pkg("right", "left")), (pkg("top")[0],))
    assert order.needs[pkg("top")[0]] == frozenset(pkg("left", "right"))
    assert short(order) == ["base", "right", "left", "top"]


def test_docstring_example():
    result = doctest.testmod(restart.planning.graph)
    assert result.attempted >= 4 and result.failed == 0


def test_networkx_is_imported_lazily():
    code = ("import sys, restart.planning.graph, restart.planning.uvl; assert 'networkx' not in sys.modules; "
            "restart.planning.graph.order_features(['a'], None); assert 'networkx' not in sys.modules; "
            "restart.planning.graph.order_features(['a'], restart.planning.uvl.parse_uvl('features\\n a')); "
            "assert 'networkx' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


def test_a_pass_through_goes_on_after_a_requirement_already_seen():
    """x => b was reached already (a => b): x's next requirement still counts (mutmut: the
    ``continue`` on a seen target as ``break`` survived, and c -> a was lost)."""
    model = spl(leaves("a", "b", "c", "x"), "a => b; a => x; x => b; x => c")
    order = order_features(pkg("a", "b", "c"), model)
    assert short(order) == ["b", "c", "a"]
    assert [(e.before, e.after, e.reason) for e in order.edges] == [
        (*pkg("b", "a"), "demo_spl.uvl:9"), (*pkg("c", "a"), "demo_spl.uvl:10 via x (:12)")]


def test_an_undeclared_feature_reached_from_any_declared_one_is_no_note():
    """x is reached from a, then b's chain is walked: x stays "required by a declared feature"
    (mutmut: ``reached = seen`` / ``reached &= seen`` survived and added a false note on x)."""
    model = spl(leaves("a", "b", "c", "x"), "a => x; x => c; b => c")
    order = order_features(pkg("a", "b", "c"), model)
    assert short(order) == ["c", "a", "b"]
    assert order.notes == ("demo_spl.uvl:9: a requires x, which the product does not declare",)


def test_constraints_among_undeclared_features_only_are_no_note():
    """(mutmut: ``… and r.feature not in node_of or r.feature not in reached`` survived)"""
    assert order_features(pkg("a"), spl(leaves("a", "x", "y"), "x => y")).notes == ()


def test_a_feature_requiring_itself_under_another_uvl_name_is_a_note():
    """Two UVL features for one package: ``pay`` (package attribute) and ``splent_feature_pay``."""
    direct = order_features(pkg("pay"), spl("pay splent_feature_pay,splent_feature_pay", "pay => splent_feature_pay"))
    assert direct.notes == ("demo_spl.uvl:7: pay requires itself through splent_feature_pay: no order",)
    through = order_features(pkg("pay"), spl("pay splent_feature_pay,splent_feature_pay,x",
                                             "pay => x; x => splent_feature_pay"))
    assert through.notes == ("demo_spl.uvl:8: pay requires x, which the product does not declare",
                             "demo_spl.uvl:8: pay requires itself through x: no order")
    assert direct.edges == through.edges == ()
    longer = order_features(pkg("pay"), spl("pay splent_feature_pay,splent_feature_pay,x,y",
                                            "pay => x; x => y; y => splent_feature_pay"))
    assert longer.notes[-1] == "demo_spl.uvl:9: pay requires itself through x, y: no order"
