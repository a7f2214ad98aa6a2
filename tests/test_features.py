"""Entry grammar ``[<ns>/]<name>[@<version>]`` and the names and paths derived from it."""
from __future__ import annotations

from pathlib import Path

import pytest

from restart.errors import ConfigError
from restart.planning.features import (
    DEFAULT_NAMESPACE,
    FeatureRef,
    ns_safe,
    parse_entry,
    project_name,
    workspace_relative,
)

SRC, KEY = "app/pyproject.toml", "[tool.splent].features"


def parse(entry):
    return parse_entry(entry, source=SRC, key=KEY)


@pytest.mark.parametrize("entry, namespace, name, version, mode", [
    ("splent-io/splent_feature_auth@v1.2.7", "splent-io", "splent_feature_auth", "v1.2.7", "pinned"),
    ("splent_io/splent_feature_admin@v1.1.1", "splent_io", "splent_feature_admin", "v1.1.1", "pinned"),
    ("splent_feature_auth", DEFAULT_NAMESPACE, "splent_feature_auth", None, "editable"),
    ("splent_feature_auth@1.0", DEFAULT_NAMESPACE, "splent_feature_auth", "1.0", "pinned"),
    ("my.org/splent_feature_x", "my.org", "splent_feature_x", None, "editable"),
    ("  splent_feature_x  ", DEFAULT_NAMESPACE, "splent_feature_x", None, "editable"),
])
def test_grammar(entry, namespace, name, version, mode):
    ref = parse(entry)
    assert (ref.namespace, ref.name, ref.version, ref.mode) == (namespace, name, version, mode)
    assert ref.entry == entry.strip()


@pytest.mark.parametrize("entry, message", [
    ("x@", 'app/pyproject.toml: [tool.splent].features entry "x@" has an empty version.'),
    ("@v1", 'app/pyproject.toml: [tool.splent].features entry "@v1" has an empty name.'),
    ("ns/@v1", 'app/pyproject.toml: [tool.splent].features entry "ns/@v1" has an empty name.'),
    ("/x", 'app/pyproject.toml: [tool.splent].features entry "/x" has an empty namespace.'),
    ("   ", 'app/pyproject.toml: [tool.splent].features entry "   " is empty.'),
    ("../x", 'app/pyproject.toml: [tool.splent].features entry "../x" has an invalid namespace ".." '
             "(allowed: letters, digits, '_', '.' and '-', not starting with '.')."),
    ("..", 'app/pyproject.toml: [tool.splent].features entry ".." has an invalid name ".." '
           "(allowed: letters, digits, '_', '.' and '-', not starting with '.')."),
    ("x@../../etc", 'app/pyproject.toml: [tool.splent].features entry "x@../../etc" has an invalid version '
                    "\"../../etc\" (allowed: letters, digits, '_', '.' and '-', not starting with '.')."),
    ("a/b/c", 'app/pyproject.toml: [tool.splent].features entry "a/b/c" has an invalid name "b/c" '
              "(allowed: letters, digits, '_', '.' and '-', not starting with '.')."),
    ("x@1@2", 'app/pyproject.toml: [tool.splent].features entry "x@1@2" has an invalid version "1@2" '
              "(allowed: letters, digits, '_', '.' and '-', not starting with '.')."),
    ("splent feature", 'app/pyproject.toml: [tool.splent].features entry "splent feature" has an invalid '
                       "name \"splent feature\" (allowed: letters, digits, '_', '.' and '-', not starting "
                       "with '.')."),
    (42, "app/pyproject.toml: [tool.splent].features entry 42 is an integer, not a string like "
         '"splent-io/splent_feature_auth@v1.2.7".'),
    ({"name": "x"}, "app/pyproject.toml: [tool.splent].features entry {'name': 'x'} is a table, not a string "
                    'like "splent-io/splent_feature_auth@v1.2.7".'),
])
def test_grammar_errors(entry, message):
    with pytest.raises(ConfigError) as err:
        parse(entry)
    assert str(err.value) == message
    assert err.value.exit_code == 2


@pytest.mark.parametrize("namespace, safe", [
    ("splent-io", "splent_io"), ("splent_io", "splent_io"), ("my.org-x", "my_org_x"), ("Org", "Org"),
])
def test_ns_safe(namespace, safe):
    assert ns_safe(namespace) == safe


def test_project_name_replaces_slash_at_and_dot():
    assert project_name("innosoft_app", "dev") == "innosoft_app_dev"
    assert project_name("a/b@v1.2", "prod") == "a_b_v1_2_prod"


def test_pinned_paths(tmp_path: Path):
    ref = parse("splent-io/splent_feature_redis@v1.5.6")
    assert ref.ns_safe == "splent_io"
    assert ref.package == "splent_feature_redis"
    assert ref.release == "1.5.6"
    assert ref.link_name == "splent_feature_redis@v1.5.6"
    assert ref.root(tmp_path) == tmp_path / ".splent_cache/features/splent_io/splent_feature_redis@v1.5.6"
    assert ref.link_path(tmp_path / "app") == tmp_path / "app/features/splent_io/splent_feature_redis@v1.5.6"
    assert ref.link_target() == "../../../.splent_cache/features/splent_io/splent_feature_redis@v1.5.6"
    assert ref.stack_project("innosoft_app", "dev") == "innosoft_app_splent_io_splent_feature_redis_dev"


def test_editable_paths(tmp_path: Path):
    ref = parse("splent-io/splent-feature-theme")
    assert ref.mode == "editable" and ref.release is None
    assert ref.package == "splent_feature_theme"            # pip's identity
    assert ref.link_name == "splent-feature-theme"          # the folder keeps its spelling
    assert ref.root(tmp_path) == tmp_path / "splent-feature-theme"
    assert ref.link_path(tmp_path / "app") == tmp_path / "app/features/splent_io/splent-feature-theme"
    assert ref.link_target() == "../../../splent-feature-theme"
    assert ref.stack_project("app", "prod") == "app_splent_io_splent-feature-theme_prod"


def test_package_normalisation_matches_pip():
    assert FeatureRef("x", "splent-io", "Splent.Feature--X", None).package == "splent_feature_x"


def test_compose_file_prefers_env_file(tmp_path: Path):
    ref = parse("splent_feature_nginx")
    docker = tmp_path / "splent_feature_nginx" / "docker"
    assert ref.compose_file(tmp_path, "dev") is None
    docker.mkdir(parents=True)
    (docker / "docker-compose.yml").write_text("services: {}\n")
    assert ref.compose_file(tmp_path, "dev") == docker / "docker-compose.yml"
    (docker / "docker-compose.dev.yml").write_text("services: {}\n")
    assert ref.compose_file(tmp_path, "dev") == docker / "docker-compose.dev.yml"
    assert ref.compose_file(tmp_path, "prod") == docker / "docker-compose.yml"


def test_workspace_relative_shows_outside_paths_as_they_are():
    rel = workspace_relative(Path("/ws"))
    assert rel(Path("/ws/app/pyproject.toml")) == "app/pyproject.toml"
    assert rel(Path("/elsewhere/x.uvl")) == "/elsewhere/x.uvl"
