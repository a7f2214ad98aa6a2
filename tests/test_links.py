"""Feature links: planning the symlink changes under ``<product>/features/`` and applying them."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from restart.errors import ConfigError, RestartError
from restart.planning.features import parse_entry
from restart.planning.links import LinkChange, apply_links, plan_links

REDIS = "splent-io/splent_feature_redis@v1.5.6"
THEME = "splent-io/splent_feature_theme"
REDIS_TARGET = "../../../.splent_cache/features/splent_io/splent_feature_redis@v1.5.6"


def refs(*entries):
    return [parse_entry(e, source="app/pyproject.toml", key="[tool.splent].features") for e in entries]


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A workspace with product ``app``, a cached redis v1.5.6 and a theme checkout."""
    (tmp_path / "app").mkdir()
    (tmp_path / ".splent_cache/features/splent_io/splent_feature_redis@v1.5.6").mkdir(parents=True)
    (tmp_path / "splent_feature_theme").mkdir()
    return tmp_path


def links_dir(ws: Path) -> Path:
    return ws / "app" / "features" / "splent_io"


# --- plan_links / apply_links ----------------------------------------------------------------

def test_create_links_then_nothing_to_do(ws):
    changes = plan_links(ws, ws / "app", refs(REDIS, THEME))
    assert changes == (
        LinkChange("create", links_dir(ws) / "splent_feature_redis@v1.5.6", REDIS_TARGET),
        LinkChange("create", links_dir(ws) / "splent_feature_theme", "../../../splent_feature_theme"),
    )
    apply_links(changes)
    assert os.readlink(links_dir(ws) / "splent_feature_redis@v1.5.6") == REDIS_TARGET
    assert os.readlink(links_dir(ws) / "splent_feature_theme") == "../../../splent_feature_theme"
    assert (links_dir(ws) / "splent_feature_theme").resolve() == (ws / "splent_feature_theme").resolve()
    assert plan_links(ws, ws / "app", refs(REDIS, THEME)) == ()


def test_targets_match_the_feature_refs(ws):
    ref_redis, ref_theme = refs(REDIS, THEME)
    changes = plan_links(ws, ws / "app", [ref_redis, ref_theme])
    assert [c.target for c in changes] == [ref_redis.link_target(), ref_theme.link_target()]


def test_wrong_target_is_replaced_atomically(ws):
    link = links_dir(ws) / "splent_feature_theme"
    link.parent.mkdir(parents=True)
    os.symlink(str(ws / "splent_feature_theme"), link)          # absolute: breaks in containers
    changes = plan_links(ws, ws / "app", refs(THEME))
    assert changes == (LinkChange("replace", link, "../../../splent_feature_theme"),)
    apply_links(changes)
    assert os.readlink(link) == "../../../splent_feature_theme"
    assert sorted(p.name for p in link.parent.iterdir()) == ["splent_feature_theme"]   # no temp left


def test_stale_links_removed_real_entries_kept(ws):
    d = links_dir(ws)
    d.mkdir(parents=True)
    os.symlink(REDIS_TARGET.replace("v1.5.6", "v1.5.5"), d / "splent_feature_redis@v1.5.5")
    other = ws / "app" / "features" / "other_org"
    other.mkdir()
    os.symlink("../../../splent_feature_gone", other / "splent_feature_gone")      # dangling, stale
    (d / "notes.txt").write_text("mine")                                            # not a link: kept
    (d / "vendored").mkdir()                                                        # not a link: kept
    changes = plan_links(ws, ws / "app", refs(REDIS))
    assert changes == (
        LinkChange("remove", other / "splent_feature_gone", None),
        LinkChange("remove", d / "splent_feature_redis@v1.5.5", None),
        LinkChange("create", d / "splent_feature_redis@v1.5.6", REDIS_TARGET),
    )
    apply_links(changes)
    assert sorted(p.name for p in d.iterdir()) == ["notes.txt", "splent_feature_redis@v1.5.6", "vendored"]
    assert list(other.iterdir()) == []


def test_no_features_removes_every_link(ws):
    apply_links(plan_links(ws, ws / "app", refs(REDIS, THEME)))
    changes = plan_links(ws, ws / "app", [])
    assert [c.action for c in changes] == ["remove", "remove"]
    apply_links(changes)
    assert list(links_dir(ws).iterdir()) == []


def test_real_directory_in_the_way_is_an_error_and_kept(ws):
    in_the_way = links_dir(ws) / "splent_feature_theme"
    in_the_way.mkdir(parents=True)
    (in_the_way / "keep.py").write_text("x = 1\n")
    with pytest.raises(ConfigError) as err:
        plan_links(ws, ws / "app", refs(THEME))
    assert str(err.value) == ("app/features/splent_io/splent_feature_theme is a real directory, not a "
                              'symlink: move it away so feature "splent-io/splent_feature_theme" can be '
                              "linked there (restart never deletes one).")
    assert (in_the_way / "keep.py").read_text() == "x = 1\n"


def test_real_file_in_the_way(ws):
    links_dir(ws).mkdir(parents=True)
    (links_dir(ws) / "splent_feature_redis@v1.5.6").write_text("")
    with pytest.raises(ConfigError, match="is a real file, not a symlink"):
        plan_links(ws, ws / "app", refs(REDIS))


def test_pinned_feature_missing_from_cache(ws):
    with pytest.raises(ConfigError) as err:
        plan_links(ws, ws / "app", refs("splent-io/splent_feature_redis@v1.6.0"))
    assert str(err.value) == ('feature "splent-io/splent_feature_redis@v1.6.0" is not in the cache '
                              "(.splent_cache/features/splent_io/splent_feature_redis@v1.6.0); "
                              "`splent product:resolve` fetches it.")
    assert not (ws / "app" / "features").exists()          # nothing created on error


def test_editable_checkout_missing(ws):
    with pytest.raises(ConfigError) as err:
        plan_links(ws, ws / "app", refs(THEME, "splent_feature_notes"))
    assert str(err.value) == ('feature "splent_feature_notes" is editable but its checkout '
                              "splent_feature_notes/ does not exist in the workspace.")


def test_checkout_symlinked_outside_the_workspace_is_refused(tmp_path):
    ws, outside = tmp_path / "ws", tmp_path / "elsewhere"
    (ws / "app").mkdir(parents=True)
    outside.mkdir()
    os.symlink(outside, ws / "splent_feature_evil")
    with pytest.raises(ConfigError) as err:
        plan_links(ws, ws / "app", refs("splent_feature_evil"))
    assert str(err.value) == (f'feature "splent_feature_evil" resolves outside the workspace '
                              f"(splent_feature_evil → {os.path.realpath(outside)}), where the web container "
                              "cannot see it.")


def test_cache_symlinked_outside_the_workspace_is_refused(tmp_path):
    ws, outside = tmp_path / "ws", tmp_path / "cache"
    (ws / "app").mkdir(parents=True)
    (outside / "features/splent_io/splent_feature_redis@v1.5.6").mkdir(parents=True)
    os.symlink(outside, ws / ".splent_cache")
    with pytest.raises(ConfigError, match="resolves outside the workspace"):
        plan_links(ws, ws / "app", refs(REDIS))


def test_symlinked_namespace_folder_is_refused(tmp_path, ws):
    (tmp_path / "real_ns").mkdir()
    (ws / "app" / "features").mkdir()
    os.symlink(tmp_path / "real_ns", links_dir(ws))
    with pytest.raises(ConfigError) as err:
        plan_links(ws, ws / "app", refs(THEME))
    assert str(err.value) == ("app/features/splent_io is a symlink, not a directory: restart will not put "
                              "feature links there.")


def test_apply_never_removes_a_directory_that_appeared(ws):
    path = links_dir(ws) / "splent_feature_old"
    path.mkdir(parents=True)
    with pytest.raises(RestartError, match="is no longer a symlink; it was not removed"):
        apply_links([LinkChange("remove", path, None)])
    assert path.is_dir()


def test_apply_create_fails_when_something_appeared(ws):
    path = links_dir(ws) / "splent_feature_theme"
    path.mkdir(parents=True)
    with pytest.raises(RestartError, match="cannot create the feature link"):
        apply_links([LinkChange("create", path, "../../../splent_feature_theme")])
    assert path.is_dir() and not path.is_symlink()


# --- from the mutation survivors (issue 12) ---------------------------------------------------

def test_a_feature_declared_twice_still_plans_the_next_one(ws):
    """(mutmut: the ``continue`` on an already planned link as ``break`` survived)"""
    changes = plan_links(ws, ws / "app", refs(THEME, THEME, REDIS))
    assert [(c.action, c.path.name) for c in changes] == [("create", "splent_feature_theme"),
                                                          ("create", "splent_feature_redis@v1.5.6")]


def test_stale_links_only_in_real_namespace_folders(tmp_path, ws):
    """A file or a symlinked folder under features/ is not SPLENT's layout: left alone, and the
    folders after it are still cleaned (mutmut: ``continue`` as ``break``, and ``is_symlink()
    and not is_dir()`` survived)."""
    features = ws / "app" / "features"
    (tmp_path / "elsewhere").mkdir()
    os.symlink("../../x", tmp_path / "elsewhere" / "splent_feature_far")
    features.mkdir()
    os.symlink(tmp_path / "elsewhere", features / "a_linked_ns")
    (features / "README").write_text("")
    os.makedirs(features / "z_ns")
    os.symlink("../../../gone", features / "z_ns" / "splent_feature_gone")
    assert plan_links(ws, ws / "app", []) == (LinkChange("remove", features / "z_ns" / "splent_feature_gone", None),)


def test_a_file_where_the_namespace_folder_belongs_is_refused(ws):
    (ws / "app" / "features").mkdir()
    links_dir(ws).write_text("")
    with pytest.raises(ConfigError) as err:
        plan_links(ws, ws / "app", refs(THEME))
    assert str(err.value) == ("app/features/splent_io is a file, not a directory: restart will not put "
                              "feature links there.")


def test_apply_names_the_os_reason(ws):
    links_dir(ws).parent.mkdir(parents=True)
    links_dir(ws).write_text("")                        # appeared after planning: a file, not a folder
    path = links_dir(ws) / "splent_feature_theme"
    with pytest.raises(RestartError) as err:
        apply_links([LinkChange("create", path, "../../../splent_feature_theme")])
    assert str(err.value) == f"cannot create the feature link {path}: File exists."


def test_a_product_outside_the_workspace_is_refused(tmp_path):
    ws, outside = tmp_path / "ws", tmp_path / "elsewhere"
    ws.mkdir()
    outside.mkdir()
    os.symlink(outside, ws / "app")
    with pytest.raises(ConfigError) as err:
        plan_links(ws, ws / "app", [])
    assert str(err.value) == f"{ws / 'app'} resolves outside the workspace {ws} ({os.path.realpath(outside)})."


def test_a_file_where_the_features_folder_belongs_is_refused(ws):
    (ws / "app" / "features").write_text("")
    with pytest.raises(ConfigError) as err:
        plan_links(ws, ws / "app", [])
    assert str(err.value) == ("app/features is a file, not a directory: restart will not put feature links "
                              "there.")


def test_apply_never_replaces_a_directory_that_appeared(ws):
    path = links_dir(ws) / "splent_feature_theme"
    path.mkdir(parents=True)
    with pytest.raises(RestartError) as err:
        apply_links([LinkChange("replace", path, "../../../splent_feature_theme")])
    assert str(err.value) == f"{path} is no longer a symlink; it was not replaced."
    assert path.is_dir() and not path.is_symlink()
