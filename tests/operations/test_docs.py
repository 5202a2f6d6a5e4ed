"""The documentation: docs/ builds strictly as `make test` builds it (a broken link or anchor, or a page
left out of the navigation, fails the suite), and the README's links into docs/ lead somewhere."""

import importlib.util
import re
import shutil
import subprocess

import pytest
from markdown.extensions.toc import slugify

from ..conftest import PROJECT

README = PROJECT / "README.md"


def _run_tests_script():
    spec = importlib.util.spec_from_file_location("run_tests", PROJECT / "scripts" / "run_tests.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_tests = _run_tests_script()


def _build(root, tmp_path) -> subprocess.CompletedProcess:
    command = run_tests.documentation_build(str(tmp_path / "site"))
    env = {**run_tests.os.environ, **run_tests.DOCUMENTATION_ENV}
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)


@pytest.fixture
def docs_copy(tmp_path):
    copy = tmp_path / "project"
    shutil.copytree(PROJECT / "docs", copy / "docs")
    shutil.copy(PROJECT / "mkdocs.yml", copy / "mkdocs.yml")
    return copy


def test_the_documentation_builds_strictly(tmp_path):
    built = _build(PROJECT, tmp_path)
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "site" / "architecture" / "index.html").exists()


@pytest.mark.parametrize(
    "broken, said",
    [
        ("See [the faults](faults.md#no-such-heading).", "does not contain an anchor '#no-such-heading'"),
        ("See [the settings](#no-such-heading).", "there is no such anchor on this page"),
        ("See [the guide](no-such-page.md).", "the target is not found among documentation files"),
    ],
)
def test_a_broken_link_fails_the_build(docs_copy, tmp_path, broken, said):
    with (docs_copy / "docs" / "using.md").open("a") as page:
        page.write(f"\n{broken}\n")
    built = _build(docs_copy, tmp_path)
    assert built.returncode != 0
    assert said in built.stderr


def test_a_page_left_out_of_the_navigation_fails_the_build(docs_copy, tmp_path):
    (docs_copy / "docs" / "forgotten.md").write_text("# Forgotten\n")
    built = _build(docs_copy, tmp_path)
    assert built.returncode != 0
    assert "forgotten.md" in built.stderr


def test_make_test_fails_on_a_broken_link(docs_copy, monkeypatch):
    """The stage `make test` runs (scripts/run_tests.py), in a copy whose link is broken."""
    with (docs_copy / "docs" / "security.md").open("a") as page:
        page.write("\nSee [the API](api.md#no-such-heading).\n")
    monkeypatch.chdir(docs_copy)
    assert run_tests.documentation_built() is False


def _headings(path) -> set[str]:
    """The anchors MkDocs gives a page's headings (code blocks' `#` lines are not headings)."""
    anchors, fenced = set(), False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (heading := re.match(r"#+ (.+)", line)):
            anchors.add(slugify(heading.group(1), "-"))
    return anchors


def test_the_readme_is_a_short_start_whose_links_lead_somewhere():
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    links = re.findall(r"\]\((docs/[^)#]*)(?:#([^)]+))?\)", text)
    assert {"docs/using.md", "docs/configuration.md", "docs/architecture.md", "docs/deploy.md"} <= {p for p, _ in links}
    for path, anchor in links:
        target = PROJECT / path
        assert target.exists(), path
        if anchor:
            assert anchor in _headings(target), f"{path}#{anchor}"
