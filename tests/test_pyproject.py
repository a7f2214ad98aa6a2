"""pyproject.toml → declared features and SPL; where the UVL model is found."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from restart.errors import ConfigError
from restart.planning.pyproject import ProductConfig, doi_slug, find_uvl, label, load_toml, read_pyproject


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def product(tmp_path: Path, toml: str, name: str = "innosoft_app") -> Path:
    return write(tmp_path / name / "pyproject.toml", toml)


def entries(config: ProductConfig) -> list[str]:
    return [f.entry for f in config.features]


def error(path: Path, env: str = "dev") -> str:
    with pytest.raises(ConfigError) as err:
        read_pyproject(path, env)
    assert err.value.exit_code == 2
    return str(err.value)


# --- features --------------------------------------------------------------------------------

INNOSOFT = """
[project]
name = "innosoft_app"

[tool.splent]
spl = "cms_spl"
features = [
  "splent-io/splent_feature_theme",
  "splent-io/splent_feature_redis@v1.5.6",
]
features_dev = ["splent_io/splent_feature_theme", "splent_feature_mailhog", "splent_feature_redis@v1.5.6"]
features_prod = ["splent-io/splent_feature_nginx@v1.1.0"]
"""


def test_env_merge_keeps_order_and_dedupes_after_normalising(tmp_path):
    path = product(tmp_path, INNOSOFT)
    dev = read_pyproject(path, "dev")
    assert entries(dev) == ["splent-io/splent_feature_theme", "splent-io/splent_feature_redis@v1.5.6",
                            "splent_feature_mailhog"]
    assert entries(read_pyproject(path, "prod")) == [
        "splent-io/splent_feature_theme", "splent-io/splent_feature_redis@v1.5.6",
        "splent-io/splent_feature_nginx@v1.1.0"]
    assert entries(read_pyproject(path, "")) == entries(read_pyproject(path, "test"))[:2]
    assert dev.spl == "cms_spl" and dev.path == path
    assert (dev.spl_version, dev.spl_doi, dev.uvl_file) == (None, None, None)


def test_duplicates_within_one_list_are_dropped(tmp_path):
    path = product(tmp_path, '[tool.splent]\nfeatures = ["x", "splent-io/x", "splent_io/x", "x"]\n')
    assert entries(read_pyproject(path, "dev")) == ["x"]


def test_one_package_declared_two_ways_is_an_error(tmp_path):
    path = product(tmp_path, '[tool.splent]\nfeatures = ["splent_feature_x"]\n'
                             'features_prod = ["splent_feature_x@v1.0.0"]\n')
    assert entries(read_pyproject(path, "dev")) == ["splent_feature_x"]
    assert error(path, "prod") == (
        'innosoft_app/pyproject.toml: [tool.splent].features_prod entry "splent_feature_x@v1.0.0" conflicts '
        'with "splent_feature_x" in [tool.splent].features (one package, declared twice in different ways).')


def test_same_name_from_two_namespaces_is_an_error(tmp_path):
    path = product(tmp_path, '[tool.splent]\nfeatures = ["a/splent_feature_x@v1", "b/splent_feature_x@v1"]\n')
    assert "conflicts with \"a/splent_feature_x@v1\"" in error(path)


def test_legacy_optional_dependencies(tmp_path):
    path = product(tmp_path, '[project]\nname = "old"\n[project.optional-dependencies]\n'
                             'features = ["splent_feature_auth", "splent-io/splent_feature_redis@v1.2.9"]\n'
                             '[tool.splent]\nfeatures_dev = ["splent_feature_mailhog"]\n')
    assert entries(read_pyproject(path, "dev")) == [
        "splent_feature_auth", "splent-io/splent_feature_redis@v1.2.9", "splent_feature_mailhog"]


def test_explicit_empty_features_wins_over_legacy(tmp_path):
    path = product(tmp_path, '[project.optional-dependencies]\nfeatures = ["splent_feature_auth"]\n'
                             "[tool.splent]\nfeatures = []\n")
    assert read_pyproject(path, "dev").features == ()


def test_no_features_at_all_is_fine(tmp_path):
    config = read_pyproject(product(tmp_path, '[project]\nname = "bare"\n'), "dev")
    assert config.features == () and config.spl is None and config.declared is False


def test_spl_model_pin(tmp_path):
    path = product(tmp_path, '[tool.splent]\nspl = "cms_spl"\n[tool.splent.spl_model]\n'
                             'doi = "10.5281/zenodo.21610307"\nversion = ""\n'
                             '[tool.splent.uvl]\nfile = "cms.uvl"\n')
    config = read_pyproject(path, "dev")
    assert (config.spl, config.spl_version, config.spl_doi, config.uvl_file) == (
        "cms_spl", None, "10.5281/zenodo.21610307", "cms.uvl")


def test_pinned_version_and_framework_file_are_read(tmp_path):
    """(mutmut: spl_version=None / _string(model, "VERSION", …) survived: no test read a pinned version)"""
    path = product(tmp_path, '[tool.splent.spl_model]\nversion = " v2 "\n[tool.splent.uvl]\nfile = "cms.uvl"\n')
    config = read_pyproject(path, "dev")
    assert (config.spl_version, config.uvl_file) == ("v2", "cms.uvl")


@pytest.mark.parametrize("toml, declared", [
    ("", False),
    ('[tool.splent]\nspl = "cms_spl"\n', False),                     # other keys are no declaration
    ('[tool.splent]\nfeatures_prod = []\n', True),                   # features_<env> alone declares
    ('[project.optional-dependencies]\nfeatures = []\n', True),       # so does the legacy list
    ('[project.optional-dependencies]\ndocs = ["x"]\n', False),
])
def test_declared_means_some_features_key_exists(tmp_path, toml, declared):
    """``declared`` decides whether "no features" is a product without features or a missing list."""
    assert read_pyproject(product(tmp_path, toml), "dev").declared is declared




def test_load_toml_names_the_file_itself(tmp_path):
    """Called without a label (the workspace env, compose files…) the message still names the file."""
    with pytest.raises(ConfigError, match=r"^app/missing\.toml does not exist\.$"):
        load_toml(tmp_path / "app" / "missing.toml")
    (tmp_path / "app" / "dir.toml").mkdir(parents=True)
    with pytest.raises(ConfigError) as err:
        load_toml(tmp_path / "app" / "dir.toml")
    assert str(err.value) == "app/dir.toml cannot be read: Is a directory."
    assert label(Path("pyproject.toml")) == "pyproject.toml"


def test_missing_file(tmp_path):
    assert error(tmp_path / "app" / "pyproject.toml") == "app/pyproject.toml does not exist."


def test_toml_syntax_error_names_line_and_column(tmp_path):
    path = product(tmp_path, '[tool.splent]\nfeatures = ["x"] y\n')
    assert error(path) == ("innosoft_app/pyproject.toml:2:18: invalid TOML: Expected newline or end of "
                           "document after a statement.")


def test_toml_error_without_position(tmp_path):
    path = product(tmp_path, '[tool.splent]\nfeatures = ["x",\n')
    assert error(path) == "innosoft_app/pyproject.toml: invalid TOML: Invalid value (at end of document)."


@pytest.mark.parametrize("toml, message", [
    ('tool = "x"\n', "[tool] must be a table, not a string."),
    ('[tool]\nsplent = ["a"]\n', "[tool.splent] must be a table, not a list."),
    ('[tool.splent]\nfeatures = "splent_feature_x"\n', "[tool.splent].features must be a list of strings, "
                                                       "not a string."),
    ('[tool.splent]\nfeatures_dev = {a = 1}\n', "[tool.splent].features_dev must be a list of strings, "
                                               "not a table."),
    ('[project]\noptional-dependencies = 3\n', "[project.optional-dependencies] must be a table, "
                                               "not an integer."),
    ('[tool.splent]\nfeatures = ["ok", 7]\n', "[tool.splent].features entry 7 is an integer, not a string "
                                             'like "splent-io/splent_feature_auth@v1.2.7".'),
    ('[tool.splent]\nfeatures_dev = ["x@"]\n', '[tool.splent].features_dev entry "x@" has an empty version.'),
    ('[tool.splent]\nspl = ["cms_spl"]\n', "[tool.splent].spl must be a string, not a list."),
    ('[tool.splent.spl_model]\ndoi = true\n', "[tool.splent.spl_model].doi must be a string, not a boolean."),
    ('project = 3\n', "[project] must be a table, not an integer."),
    ('[tool.splent]\nspl_model = "v1"\n', "[tool.splent.spl_model] must be a table, not a string."),
    ('[tool.splent]\nuvl = 1\n', "[tool.splent.uvl] must be a table, not an integer."),
    ('[tool.splent]\nspl = 1.5\n', "[tool.splent].spl must be a string, not a float."),
    ('[tool.splent]\nspl = 1979-05-27\n', "[tool.splent].spl must be a string, not a date."),
    ('[tool.splent.spl_model]\nversion = [1]\n', "[tool.splent.spl_model].version must be a string, not a list."),
    ('[tool.splent.uvl]\nfile = false\n', "[tool.splent.uvl].file must be a string, not a boolean."),
    ('[project.optional-dependencies]\nfeatures = "x"\n', "[project.optional-dependencies].features must be a "
                                                            "list of strings, not a string."),
])
def test_wrong_types(tmp_path, toml, message):
    assert error(product(tmp_path, toml)) == f"innosoft_app/pyproject.toml: {message}"


def test_unused_env_list_is_not_read(tmp_path):
    path = product(tmp_path, '[tool.splent]\nfeatures = ["x"]\nfeatures_prod = "broken"\n')
    assert entries(read_pyproject(path, "dev")) == ["x"]


# --- UVL lookup ------------------------------------------------------------------------------

def config(tmp_path, spl="cms_spl", version=None, doi=None, uvl_file=None) -> ProductConfig:
    return ProductConfig(tmp_path / "app" / "pyproject.toml", (), spl, version, doi, uvl_file)


def meta(folder: Path, doi: str) -> None:
    write(folder / "metadata.toml", f'[spl]\nname = "cms_spl"\n[spl.uvl]\ndoi = "{doi}"\n')


def uvl(path: Path) -> Path:
    return write(path, "features\n\tcms_spl\n")


def test_doi_slug():
    assert doi_slug("10.5281/zenodo.21610307") == "10.5281_zenodo.21610307"
    assert doi_slug(" doi:10.1/a b ") == "doi_10.1_a_b"
    assert doi_slug("/10.1/Zenodo.X/") == "10.1_Zenodo.X"         # capitals kept, no "_" at the ends


def test_nothing_declared_and_nothing_found(tmp_path):
    assert find_uvl(tmp_path, tmp_path / "app", config(tmp_path, spl=None)) is None
    assert find_uvl(tmp_path, tmp_path / "app", config(tmp_path)) is None


def test_working_copy_stripped_name_first(tmp_path):
    uvl(tmp_path / "splent_spl_cms_spl" / "cms_spl.uvl")
    uvl(tmp_path / ".splent_cache/spls/cms_spl/cms_spl.uvl")
    stripped = uvl(tmp_path / "splent_spl_cms" / "cms_spl.uvl")
    assert find_uvl(tmp_path, tmp_path / "app", config(tmp_path)) == stripped


def test_working_copy_literal_name_and_first_sorted_uvl(tmp_path):
    uvl(tmp_path / "splent_spl_cms_spl" / "zeta.uvl")
    alpha = uvl(tmp_path / "splent_spl_cms_spl" / "alpha.uvl")
    assert find_uvl(tmp_path, tmp_path / "app", config(tmp_path)) == alpha


def test_working_copy_without_model_falls_through_to_cache(tmp_path):
    (tmp_path / "splent_spl_cms").mkdir()
    cached = uvl(tmp_path / ".splent_cache/spls/cms_spl/cms_spl.uvl")
    assert find_uvl(tmp_path, tmp_path / "app", config(tmp_path)) == cached


def test_cache_precedence_version_then_doi_then_plain(tmp_path):
    spls = tmp_path / ".splent_cache" / "spls"
    plain = uvl(spls / "cms_spl" / "cms_spl.uvl")
    by_doi = uvl(spls / "cms_spl@10.5281_zenodo.2" / "cms_spl.uvl")
    by_version = uvl(spls / "cms_spl@v2" / "cms_spl.uvl")
    ws, app = tmp_path, tmp_path / "app"
    assert find_uvl(ws, app, config(ws, version="v2", doi="10.5281/zenodo.2")) == by_version
    assert find_uvl(ws, app, config(ws, version="v3", doi="10.5281/zenodo.2")) == by_doi
    assert find_uvl(ws, app, config(ws, version="v3")) == plain


def test_cache_any_version_only_without_a_pinned_version(tmp_path):
    spls = tmp_path / ".splent_cache" / "spls"
    uvl(spls / "cms_spl@v2" / "cms_spl.uvl")
    v1 = uvl(spls / "cms_spl@v1" / "cms_spl.uvl")
    uvl(spls / "cms_spl@v0" / "other.uvl")                # only <spl>.uvl counts in the cache
    assert find_uvl(tmp_path, tmp_path / "app", config(tmp_path)) == v1      # name order, like splent_cli
    assert find_uvl(tmp_path, tmp_path / "app", config(tmp_path, version="v9")) is None


def test_cache_folder_with_another_doi_is_rejected(tmp_path):
    spls = tmp_path / ".splent_cache" / "spls"
    meta(spls / "cms_spl@v1", "10.5281/zenodo.1")
    uvl(spls / "cms_spl@v1" / "cms_spl.uvl")
    meta(spls / "cms_spl@v2", "10.5281/zenodo.2")
    v2 = uvl(spls / "cms_spl@v2" / "cms_spl.uvl")
    assert find_uvl(tmp_path, tmp_path / "app", config(tmp_path, doi="10.5281/zenodo.2")) == v2
    pinned_v1 = config(tmp_path, version="v1", doi="10.5281/zenodo.2")
    assert find_uvl(tmp_path, tmp_path / "app", pinned_v1) is None


def test_cache_folder_recording_no_doi_is_accepted(tmp_path):
    folder = tmp_path / ".splent_cache" / "spls" / "cms_spl@v1"
    write(folder / "metadata.toml", "[spl]\nname = 'cms_spl'\n")
    model = uvl(folder / "cms_spl.uvl")
    assert find_uvl(tmp_path, tmp_path / "app", config(tmp_path, version="v1", doi="10.1/x")) == model


def test_legacy_catalog_then_framework_file(tmp_path):
    app = tmp_path / "app"
    framework = uvl(app / "uvl" / "cms.uvl")
    cfg = config(tmp_path, uvl_file="cms.uvl")
    assert find_uvl(tmp_path, app, cfg) == framework
    first = uvl(tmp_path / "splent_catalog" / "cms_spl" / "a.uvl")
    assert find_uvl(tmp_path, app, cfg) == first
    named = uvl(tmp_path / "splent_catalog" / "cms_spl" / "cms_spl.uvl")
    assert find_uvl(tmp_path, app, cfg) == named
    assert find_uvl(tmp_path, app, config(tmp_path, spl=None, uvl_file="cms.uvl")) == framework
    assert find_uvl(tmp_path, app, config(tmp_path, spl=None, uvl_file="missing.uvl")) is None


def test_cache_beats_legacy_catalog(tmp_path):
    uvl(tmp_path / "splent_catalog" / "cms_spl" / "cms_spl.uvl")
    cached = uvl(tmp_path / ".splent_cache/spls/cms_spl@10.1_x/cms_spl.uvl")
    assert find_uvl(tmp_path, tmp_path / "app", config(tmp_path, doi="10.1/x")) == cached


@pytest.mark.parametrize("kwargs, message", [
    ({"spl": "../cms_spl"}, '[tool.splent].spl "../cms_spl" is not a plain name'
                            " (allowed: letters, digits, '_', '.' and '-', not starting with '.')."),
    ({"spl": ".cms_spl"}, '[tool.splent].spl ".cms_spl" is not a plain name'
                          " (allowed: letters, digits, '_', '.' and '-', not starting with '.')."),
    ({"version": "../../x"}, '[tool.splent.spl_model].version "../../x" is not a plain version'
                             " (allowed: letters, digits, '_', '.' and '-')."),
    ({"version": ".v1"}, '[tool.splent.spl_model].version ".v1" is not a plain version'
                         " (allowed: letters, digits, '_', '.' and '-')."),
    ({"spl": None, "uvl_file": "../../etc/model.uvl"},
     '[tool.splent.uvl].file "../../etc/model.uvl" points outside app/uvl/.'),
])
def test_paths_from_pyproject_stay_in_their_folder(tmp_path, kwargs, message):
    """A leading "." is refused too (mutmut: `not fullmatch(spl) and spl.startswith(".")` survived)."""
    with pytest.raises(ConfigError) as err:
        find_uvl(tmp_path, tmp_path / "app", config(tmp_path, **kwargs))
    assert str(err.value) == f"app/pyproject.toml: {message}"


@pytest.mark.parametrize("make, what", [
    (lambda p: p.mkdir(parents=True), "a directory"),
    (lambda p: (p.parent.mkdir(parents=True), p.symlink_to(p.parent / "gone.uvl")), "a broken symlink"),
    (lambda p: (p.parent.mkdir(parents=True), os.mkfifo(p)), "not a regular file"),
])
def test_something_else_where_the_model_belongs_is_an_error(tmp_path, make, what):
    """Passing over it would restart every stack in declared order without a word."""
    make(tmp_path / "splent_spl_cms" / "cms_spl.uvl")
    with pytest.raises(ConfigError) as err:
        find_uvl(tmp_path, tmp_path / "app", config(tmp_path))
    assert str(err.value) == (f"the UVL model splent_spl_cms/cms_spl.uvl is {what}; put the model file there, "
                              "or remove it to restart stacks in declared order.")


def test_working_copy_of_an_spl_without_the_spl_suffix(tmp_path):
    """``mycms``: the folder is splent_spl_mycms; nothing is cut off a name without ``_spl``."""
    uvl(tmp_path / "splent_spl_m" / "mycms.uvl")                    # "mycms" minus 4 characters
    model = uvl(tmp_path / "splent_spl_mycms" / "mycms.uvl")
    assert find_uvl(tmp_path, tmp_path / "app", config(tmp_path, spl="mycms")) == model


def test_cache_looks_only_in_folders_of_this_spl(tmp_path):
    uvl(tmp_path / ".splent_cache" / "spls" / "another" / "cms_spl.uvl")
    assert find_uvl(tmp_path, tmp_path / "app", config(tmp_path)) is None


def test_cache_metadata_of_another_shape_counts_as_no_doi(tmp_path):
    folder = tmp_path / ".splent_cache" / "spls" / "cms_spl@v1"
    write(folder / "metadata.toml", 'spl = "cms_spl"\n')
    model = uvl(folder / "cms_spl.uvl")
    assert find_uvl(tmp_path, tmp_path / "app", config(tmp_path, version="v1", doi="10.1/x")) == model
