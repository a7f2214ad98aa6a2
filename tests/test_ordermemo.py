"""The order memo: an unchanged product is planned without importing networkx, and any change to
what the order depends on (declared features, the parsed UVL model) orders again."""
import glob
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from restart.errors import ConfigError
from restart.planning import ordermemo
from restart.planning.graph import order_features
from restart.planning.plan import build_plan
from restart.planning.settings import Settings
from restart.planning.uvl import load_uvl
from tests.test_catalogue import PRODUCT, example_copy
from tests.test_uvl import RESEARCH

REPO = Path(__file__).resolve().parent.parent
CORPUS = sorted(glob.glob(str(RESEARCH / "uvl-splent" / "**" / "*.uvl"), recursive=True))


@pytest.fixture
def ws(tmp_path, monkeypatch):
    root = example_copy(tmp_path, monkeypatch)
    shutil.rmtree(root / ordermemo.FOLDER, ignore_errors=True)    # the example's own, from runs in place
    return root


def plan(ws: Path):
    return build_plan(Settings(workspace=ws, product=PRODUCT, env="dev"))


def memos(ws: Path) -> list[Path]:
    return sorted((ws / ordermemo.FOLDER).glob("*.json"))


def uvl_of(ws: Path) -> Path:
    return ws / "splent_spl_demo" / "demo_spl.uvl"


def test_the_memo_holds_the_same_order_as_computing_it(ws):
    first = plan(ws)
    [memo] = memos(ws)
    again = plan(ws)
    assert again.order == first.order and again.stacks == first.stacks
    assert ordermemo.from_data(json.loads(memo.read_text())) == first.order


@pytest.mark.parametrize("path", CORPUS or [None])
def test_round_trip_on_real_splent_models(path):
    if path is None:
        pytest.skip("no uvl-splent corpus beside the project")
    model = load_uvl(path)
    declared = [f.package for f in model.features.values()][:12]
    order = order_features(declared, model)
    assert ordermemo.from_data(json.loads(json.dumps(ordermemo.to_data(order)))) == order


def test_an_unchanged_product_is_planned_without_networkx(ws):
    """In a fresh process, as every run is: the second plan reads the memo and never imports it."""
    code = ("import sys; from pathlib import Path; from restart.planning.plan import build_plan;"
            "from restart.planning.settings import Settings;"
            f"build_plan(Settings(workspace=Path({str(ws)!r}), product={PRODUCT!r}, env='dev'));"
            "print('networkx' in sys.modules)")
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
            .stdout.strip() for _ in range(2)]
    assert runs == ["True", "False"]


def test_a_new_constraint_orders_again(ws):
    before = plan(ws).order
    uvl = uvl_of(ws)
    text = uvl.read_text()
    assert before.edges, "the example's model orders its stacks"
    uvl.write_text(text[:text.index("\nconstraints\n")] + "\n")     # every requirement gone
    after = plan(ws).order
    assert after.edges == () and len(memos(ws)) == 2


def test_another_declared_order_orders_again(ws):
    first = plan(ws)
    pyproject = ws / PRODUCT / "pyproject.toml"
    text = pyproject.read_text()
    redis, queue = '"splent-io/splent_feature_redis@v1.0.0"', '"splent-io/splent_feature_queue"'
    assert redis in text and queue in text
    pyproject.write_text(text.replace(redis, "@@").replace(queue, redis).replace("@@", queue))
    second = plan(ws)
    assert [f.package for f in second.features] != [f.package for f in first.features]
    assert len(memos(ws)) == 2 and second.order.nodes == first.order.nodes   # the model still rules


@pytest.mark.parametrize("damage", ["{not json", '{"format": "restart-order/0"}', '{"format": "restart-order/1"}',
                                    "[]"])
def test_a_damaged_memo_is_computed_again(ws, damage):
    good = plan(ws).order
    [memo] = memos(ws)
    memo.write_text(damage)
    assert plan(ws).order == good
    assert ordermemo.from_data(json.loads(memo.read_text())) == good       # and stored again


def test_a_cycle_is_never_stored(ws):
    uvl = uvl_of(ws)
    uvl.write_text(uvl.read_text() + "\tredis => queue\n")      # queue => redis already
    for _ in range(2):
        with pytest.raises(ConfigError, match="cycle"):
            plan(ws)
    assert memos(ws) == []


def test_an_unwritable_memo_folder_only_means_no_memo(ws):
    (ws / ordermemo.FOLDER).parent.mkdir(parents=True, exist_ok=True)
    (ws / ordermemo.FOLDER).write_text("a file where the folder would be")
    assert plan(ws).order == plan(ws).order


def test_only_the_newest_memos_are_kept(ws, monkeypatch):
    monkeypatch.setattr(ordermemo, "KEEP", 2)
    uvl = uvl_of(ws)
    for _ in range(4):              # each time one more constraint (on its own line): a new model
        uvl.write_text(uvl.read_text() + "\tmetrics => redis\n")
        plan(ws)
    assert len(memos(ws)) == 2
