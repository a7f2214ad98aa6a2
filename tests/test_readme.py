"""The README stays true: its options table, exit codes and test command match the code."""
import re
from pathlib import Path

from restart.cli import EXIT_CODES, build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(title)
    return README[start:README.index("\n#", start + len(title))]


def test_options_table_matches_help():
    table = section("## Usage")
    documented = set(re.findall(r"^\| `(-[-\w]+)`(?:, `(--[\w-]+)`)?", table, re.M))
    documented = {opt for pair in documented for opt in pair if opt}
    parser = build_parser()
    actual = {o for a in parser._actions for o in a.option_strings if a.dest not in ("help", "version")}
    assert documented == actual


def test_exit_codes_table_matches_help():
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", section("### Exit codes"), re.M)
    assert [(int(code), text) for code, text in rows] == list(EXIT_CODES)
    help_text = build_parser().format_help()
    for code, text in EXIT_CODES:
        assert f"{code:<4} {text}" in help_text.replace("\n  ", " ")


def test_ci_runs_the_readme_test_command():
    command = re.search(r"# 2\. the whole test suite.*\n(.+)\n", README).group(1).strip()
    assert command == "bash scripts/provision && python3 -m tox"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash scripts/provision" in ci and "\npython3 -m tox\n" in ci


def test_readme_names_every_script_it_mentions():
    for script in re.findall(r"(?<![\w/])scripts/([\w-]+)", README):
        if script != "bench-" and not script[0].isdigit():  # 05_0_… are the product's scripts
            assert (ROOT / "scripts" / script).exists(), script


def test_json_schema_in_readme_matches_result_data():
    import json

    from restart.docker.execute import RunResult
    from restart.report import result_data

    block = re.search(r"```json\n(.+?)\n```", section("### Output and `--json`"), re.S).group(1)
    documented = json.loads(block)

    class Settings:
        product, env, engine = "demo_app", "dev", None

    class Plan:
        settings, links = Settings(), ()

    data = result_data(RunResult(Plan()))
    assert set(documented) == set(data)
    assert set(documented["app"]) == set(data["app"])


def test_code_map_names_every_module_and_script():
    """The README's code map lists every module of restart/, under its own folder, and every
    script, and nothing else."""
    block = README[README.index("## Code map"):]
    block = block[block.index("```") + 3:]
    block = block[:block.index("```")]
    named, folder = set(), None
    for line in block.split("examples/")[0].splitlines():
        if line.startswith("restart"):
            folder = line.split()[0]
            continue
        named |= {folder + name for name in re.findall(r"\b([a-z_]+\.py)\b", line)}
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "restart").rglob("*.py")
               if p.name != "__init__.py" and "__pycache__" not in p.parts}
    assert named == modules
    listed = set(re.findall(r"[\w-]+", block[block.index("scripts/") + len("scripts/"):]))
    assert listed == {p.name for p in (ROOT / "scripts").iterdir() if p.is_file()}
