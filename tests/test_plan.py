"""build_plan on small workspaces: order, exact argv, env names only, errors before anything runs."""
import textwrap
from pathlib import Path

import pytest

from restart.docker.steps import stack_steps
from restart.errors import ConfigError
from restart.planning.plan import build_plan
from restart.planning.settings import Settings

UVL = """\
features
\tshop_spl
\t\toptional
\t\t\tredis {org 'splent-io', package 'splent_feature_redis'}
\t\toptional
\t\t\tqueue {org 'splent-io', package 'splent_feature_queue'}
\t\toptional
\t\t\tmail {org 'splent-io', package 'splent_feature_mail'}
\t\toptional
\t\t\tnotes {org 'splent-io', package 'splent_feature_notes'}
constraints
\tqueue => redis
\tnotes => (queue
\t\t& redis)
"""


def make_workspace(root: Path, features, uvl=UVL, env_text="GREETING=hi\nSECRET=s3cr3t\n") -> Path:
    product = root / "shop"
    (product / "docker").mkdir(parents=True)
    (product / "scripts").mkdir()
    (product / "entrypoints").mkdir()
    (product / "docker" / "docker-compose.dev.yml").write_text("services: {}\n")
    (product / "docker" / ".env").write_text(env_text)
    (product / "scripts" / "05_0_start_app_dev.sh").write_text("#!/bin/bash\n")
    (product / "scripts" / "05_1_start_app_prod.sh").write_text("#!/bin/bash\n")
    (product / "entrypoints" / "entrypoint.dev.sh").write_text("#!/bin/bash\n")
    entries = ", ".join(f'"{f}"' for f in features)
    (product / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [project]
        name = "shop"
        [tool.splent]
        spl = "shop_spl"
        features = [{entries}]
        """))
    if uvl is not None:
        (root / "splent_spl_shop").mkdir()
        (root / "splent_spl_shop" / "shop_spl.uvl").write_text(uvl)
    for f in features:
        name = f.split("/")[-1]
        if "@" in name:
            name, version = name.split("@")
            home = root / ".splent_cache" / "features" / "splent_io" / f"{name}@{version}"
        else:
            home = root / name
        home.mkdir(parents=True)
        if name != "splent_feature_notes":  # notes has no stack
            (home / "docker").mkdir()
            (home / "docker" / "docker-compose.yml").write_text("services: {}\n")
    return root


def settings(ws: Path, **kw) -> Settings:
    return Settings(workspace=ws, product="shop", env=kw.pop("env", "dev"), **kw)


FEATURES = ["splent-io/splent_feature_notes", "splent-io/splent_feature_queue",
            "splent-io/splent_feature_mail", "splent-io/splent_feature_redis@v1.0.0"]


def test_stacks_follow_the_uvl_and_keep_declared_order(tmp_path):
    plan = build_plan(settings(make_workspace(tmp_path, FEATURES), no_features=True))
    assert [s.label for s in plan.stacks] == ["mail", "redis", "queue"]
    needs = {s.label: sorted(s.needs) for s in plan.stacks}
    assert needs == {"mail": [], "redis": [], "queue": ["splent_feature_redis"]}


def test_exact_compose_argv(tmp_path):
    ws = make_workspace(tmp_path, FEATURES)
    plan = build_plan(settings(ws, timeout=7.5, no_features=True))
    redis = next(s for s in stack_steps(plan, ("docker", "compose")) if s.label == "redis")
    cache = ws / ".splent_cache/features/splent_io/splent_feature_redis@v1.0.0/docker"
    assert redis.argv == ("docker", "compose", "-p", "shop_splent_io_splent_feature_redis_dev",
                          "--env-file", str(ws / "shop/docker/.env"), "-f", str(cache / "docker-compose.yml"),
                          "restart", "-t", "8")
    assert redis.cwd == cache
    assert redis.base + ("restart", "-t", "8") == redis.argv      # its ps and config -q use the same options


def test_compose_v1_is_one_setting(tmp_path):
    plan = build_plan(settings(make_workspace(tmp_path, FEATURES), no_features=True))
    v1 = stack_steps(plan, ("docker-compose",))
    assert all(s.argv[0] == "docker-compose" and s.argv[1] == "-p" for s in v1)
    assert [s.argv[1:] for s in v1] == [s.argv[2:] for s in stack_steps(plan, ("docker", "compose"))]


def test_env_values_never_in_plan_argv(tmp_path):
    plan = build_plan(settings(make_workspace(tmp_path, FEATURES), no_features=True))
    assert plan.env_file.names == ("GREETING", "SECRET")
    assert not any("s3cr3t" in arg for s in stack_steps(plan, ("docker", "compose")) for arg in s.argv)


def test_only_filters_and_validates(tmp_path):
    ws = make_workspace(tmp_path, FEATURES)
    plan = build_plan(settings(ws, no_features=True, only=("queue",)))
    assert [s.label for s in plan.stacks] == ["queue"] and plan.stacks[0].needs == frozenset()
    with pytest.raises(ConfigError, match="--only search: no such feature is declared"):
        build_plan(settings(ws, no_features=True, only=("search",)))


def test_no_uvl_means_declared_order(tmp_path):
    plan = build_plan(settings(make_workspace(tmp_path, FEATURES, uvl=None), no_features=True))
    assert [s.label for s in plan.stacks] == ["queue", "mail", "redis"]
    assert any("declared order" in n for n in plan.notes)


def test_cycle_is_config_error_naming_it(tmp_path):
    uvl = UVL + "\tredis => queue\n"
    with pytest.raises(ConfigError, match="cycle"):
        build_plan(settings(make_workspace(tmp_path, FEATURES, uvl=uvl), no_features=True))


def test_uvl_syntax_error_has_line(tmp_path):
    uvl = UVL + "\tqueue => => redis\n"
    with pytest.raises(ConfigError, match=r"shop_spl\.uvl:\d+:\d+"):
        build_plan(settings(make_workspace(tmp_path, FEATURES, uvl=uvl), no_features=True))


def test_missing_compose_file(tmp_path):
    ws = make_workspace(tmp_path, FEATURES)
    (ws / "shop/docker/docker-compose.dev.yml").unlink()
    with pytest.raises(ConfigError, match="no compose file for shop"):
        build_plan(settings(ws))


def test_prod_prefers_env_deploy(tmp_path):
    ws = make_workspace(tmp_path, FEATURES)
    (ws / "shop/docker/docker-compose.yml").write_text("services: {}\n")
    (ws / "shop/docker/.env.deploy").write_text("ONLY_PROD=1\n")
    plan = build_plan(settings(ws, env="prod", no_features=True))
    assert plan.env_file.names == ("ONLY_PROD",)
    assert plan.compose_file.name == "docker-compose.yml"
    assert plan.start_script == "scripts/05_1_start_app_prod.sh"


def test_full_uses_entrypoint_and_missing_one_is_an_error(tmp_path):
    ws = make_workspace(tmp_path, FEATURES)
    assert build_plan(settings(ws, full=True, no_features=True)).start_script == "entrypoints/entrypoint.dev.sh"
    with pytest.raises(ConfigError, match="entrypoints/entrypoint.prod.sh does not exist"):
        (ws / "shop/docker/docker-compose.prod.yml").write_text("services: {}\n")
        build_plan(settings(ws, env="prod", full=True, no_features=True))


def test_bad_env_line_has_line_number(tmp_path):
    ws = make_workspace(tmp_path, FEATURES, env_text="A=1\nthis is not an assignment\n")
    with pytest.raises(ConfigError, match=r"shop/docker/\.env:2: cannot parse"):
        build_plan(settings(ws, no_features=True))


def test_pinned_feature_missing_from_cache(tmp_path):
    ws = make_workspace(tmp_path, FEATURES)
    import shutil

    shutil.rmtree(ws / ".splent_cache/features/splent_io/splent_feature_redis@v1.0.0")
    with pytest.raises(ConfigError, match="not in the cache"):
        build_plan(settings(ws))
