"""The release's files agree with each other: licences, citation, changelog, workflows, issue forms.

Fast and offline (reads files only). ``tests/data/cff-1.2.0-schema.json`` is the Citation File
Format 1.2.0 schema exactly as the PyPI wheel ``cffconvert-2.0.0-py3-none-any.whl`` ships it
(``cffconvert/schemas/1.2.0/schema.json``); ``CFF_SCHEMA_SHA256`` below keeps it unedited.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml
from packaging.requirements import Requirement

from labsupport.env import PROFILES

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / ".github"
CFF_SCHEMA = ROOT / "tests" / "data" / "cff-1.2.0-schema.json"
CFF_SCHEMA_SHA256 = "0b8d22140da702d766df318dcff3a91af2f39521298dcf36d76315fd99cc169b"
#: Makefile targets that a part of an issue adds later; until it lands, a file naming one is
#: reported as a skip (with what adds it), never as a pass. Empty: every target named exists.
PENDING_TARGETS: dict[str, str] = {}
#: The course's licences as SPDX identifiers: the code, then the text, figures and diagrams.
LICENCES = ("MIT", "CC-BY-4.0")
#: An action pinned by its major version: actions/checkout@v7, pypa/gh-action-pypi-publish@release/v1.
PINNED_ACTION = re.compile(r"^[\w.-]+/[\w.-]+@(v\d+|release/v\d+)$")
CHANGELOG_SECTION = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?$", re.M)


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _version() -> str:
    return _pyproject()["project"]["version"]


def _book_config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def _citation() -> dict:
    return yaml.safe_load((ROOT / "CITATION.cff").read_text())


def _changelog_sections() -> list[tuple[str, str | None]]:
    """``(version, date)`` of every ``## [...]`` heading of CHANGELOG.md, top first."""
    text = (ROOT / "CHANGELOG.md").read_text()
    return [(m["version"], m["date"]) for m in CHANGELOG_SECTION.finditer(text)]


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.yml")) + sorted(folder.glob("*.yaml"))


def _workflows() -> dict[str, dict]:
    return {p.name: yaml.safe_load(p.read_text()) for p in _yaml_files(GITHUB / "workflows")}


def _triggers(workflow: dict) -> dict:
    """A workflow's ``on:`` (YAML 1.1, which PyYAML reads, takes a bare ``on`` for True)."""
    return workflow.get("on", workflow.get(True)) or {}


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _lab_form() -> dict:
    return yaml.safe_load((GITHUB / "ISSUE_TEMPLATE" / "lab-problem.yml").read_text())


def test_licence_files_say_what_they_should():
    author = _book_config()["author"]
    code = (ROOT / "LICENSE").read_text()
    assert code.startswith("MIT License\n"), "LICENSE must be the MIT License"
    assert f"Copyright (c) 2026 {author}" in code
    for clause in ("Permission is hereby granted, free of charge", 'THE SOFTWARE IS PROVIDED "AS IS"'):
        assert clause in " ".join(code.split()), f"LICENSE lacks the MIT clause {clause!r}"

    content = (ROOT / "LICENSE-content").read_text()
    assert f"Copyright (c) 2026 {author}" in content
    assert "Creative Commons Attribution 4.0 International Public License" in content
    assert "see LICENSE" in content, "LICENSE-content must send the reader to LICENSE for the code"
    # the whole legal code, not a notice: its eight sections, in order
    at = [content.find(f"Section {n} – ") for n in range(1, 9)]
    assert all(a >= 0 for a in at) and at == sorted(at), f"sections of the legal code found at {at}"


def test_pyproject_states_its_licence_as_spdx_and_needs_a_setuptools_that_reads_it():
    meta = _pyproject()
    project = meta["project"]
    assert project["license"] == LICENCES[0], "license = 'MIT': an SPDX expression, not a table"
    assert project["license-files"] == ["LICENSE", "LICENSE-content"]
    for name in project["license-files"]:
        assert (ROOT / name).is_file(), f"license-files names {name}, which does not exist"
    assert not [c for c in project.get("classifiers", []) if c.startswith("License ::")], (
        "PEP 639: no licence classifiers beside a licence expression"
    )
    (setuptools,) = [Requirement(r) for r in meta["build-system"]["requires"] if r.startswith("setuptools")]
    assert not setuptools.specifier.contains("76.1.0"), f"{setuptools}: setuptools < 77 cannot read it"
    pins = [
        Requirement(line)
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.startswith("setuptools")
    ]
    assert pins, "requirements.txt must pin the venv's setuptools (make installs with --no-build-isolation)"
    assert setuptools.specifier.contains(next(iter(pins[0].specifier)).version), pins[0]


def test_the_vendored_cff_schema_is_unedited():
    assert hashlib.sha256(CFF_SCHEMA.read_bytes()).hexdigest() == CFF_SCHEMA_SHA256


def test_citation_validates_against_the_cff_schema():
    schema = yaml.safe_load(CFF_SCHEMA.read_text())  # JSON is YAML
    citation = _citation()
    # the schema's note: YAML dates are cast to strings before validating
    citation = {k: v.isoformat() if isinstance(v, datetime.date) else v for k, v in citation.items()}
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(citation)]
    assert not errors, "CITATION.cff does not validate:\n" + "\n".join(errors)


def test_citation_agrees_with_pyproject_changelog_and_book():
    citation, book = _citation(), _book_config()
    assert str(citation["version"]) == _version(), "CITATION.cff's version is not pyproject.toml's"
    dates = dict(_changelog_sections())
    assert str(citation["date-released"]) == dates.get(_version()), (
        f"CITATION.cff's date-released is not CHANGELOG.md's date for {_version()}"
    )
    assert citation["authors"] == [{"name": book["author"]}]
    assert citation["repository-code"] == book["repository"]["url"]
    assert citation["url"] == book["html"]["baseurl"]
    assert tuple(citation["license"]) == LICENCES


def test_changelog_has_a_dated_section_for_the_current_version_under_unreleased():
    sections = _changelog_sections()
    assert sections and sections[0] == ("Unreleased", None), "the changelog starts with ## [Unreleased]"
    released = sections[1:]
    assert (_version(), dict(released).get(_version())) in released and dict(released)[_version()], (
        f"no dated section ## [{_version()}] - YYYY-MM-DD in CHANGELOG.md"
    )
    versions = [tuple(int(n) for n in v.split(".")) for v, _ in released]
    assert versions == sorted(versions, reverse=True), "sections newest first"
    assert [d for _, d in released] == sorted((d for _, d in released), reverse=True)
    text = (ROOT / "CHANGELOG.md").read_text()
    assert f"[{_version()}]: " in text, f"no link for [{_version()}] at the end of CHANGELOG.md"


def test_readme_cites_the_current_version():
    readme = (ROOT / "README.md").read_text()
    found = re.findall(r"^\s*version\s*=\s*\{([^}]*)\}", readme, re.M)
    assert found == [_version()], f"the README's BibTeX gives version {found}, pyproject.toml {_version()}"


def test_the_footer_links_both_licences_at_the_repository():
    book = _book_config()
    footer = book["html"]["extra_footer"]
    base = f"{book['repository']['url']}/blob/{book['repository']['branch']}"
    for name, says in (("LICENSE", "MIT License"), ("LICENSE-content", "(CC BY 4.0)")):
        assert f'href="{base}/{name}"' in footer, f"the footer does not link {base}/{name}"
        assert says in footer


@pytest.mark.parametrize(
    "path", _yaml_files(GITHUB / "workflows") + _yaml_files(GITHUB / "ISSUE_TEMPLATE"), ids=lambda p: p.name
)
def test_every_workflow_and_issue_form_parses(path):
    assert isinstance(yaml.safe_load(path.read_text()), dict), f"{path.name} is not a YAML mapping"


def test_workflows_pin_every_action_by_its_major_version():
    workflows = _workflows()
    assert set(workflows) >= {"release.yml", "site.yml"}
    for name, workflow in workflows.items():
        assert _triggers(workflow) and workflow["jobs"], name
        for step in _steps(workflow):
            if "uses" in step:
                assert PINNED_ACTION.match(step["uses"]), (
                    f"{name}: {step['uses']} is not pinned to a major version"
                )


def test_the_release_workflow_checks_the_tag_then_publishes_by_trusted_publishing():
    release = _workflows()["release.yml"]
    assert _triggers(release) == {"push": {"tags": ["v*"]}}
    runs = "\n".join(step.get("run", "") for step in _steps(release))
    assert '"$GITHUB_REF_NAME" != "v$version"' in runs and "pyproject.toml" in runs, "no tag check"
    for command in ("make dist", "make colab-env", "-m pytest tests/colab -m colab", "gh release create"):
        assert command in runs, f"release.yml does not run {command!r}"
    (publish,) = [
        j for j in release["jobs"].values() if any("pypi-publish" in s.get("uses", "") for s in j["steps"])
    ]
    assert publish["permissions"] == {"id-token": "write"}, "trusted publishing needs id-token: write alone"
    assert "build" in publish["needs"], "PyPI only after the build and the Colab layer"


def test_the_site_workflow_builds_the_book_and_deploys_it_to_pages():
    site = _workflows()["site.yml"]
    assert _triggers(site)["push"] == {"branches": [_book_config()["repository"]["branch"]]}
    uses = [step.get("uses", "").split("@")[0] for step in _steps(site)]
    assert {"actions/upload-pages-artifact", "actions/deploy-pages"} <= set(uses)
    assert any(step.get("run", "").strip() == "make book" for step in _steps(site))


def test_the_lab_problem_form_asks_for_env_report_lab_profile_and_where():
    from tools.instructor_kit import LABS, lab_title

    body = {item["id"]: item for item in _lab_form()["body"] if "id" in item}
    report = body["env-report"]
    assert report["type"] == "textarea" and "env_report()" in report["attributes"]["description"]
    for field in ("env-report", "lab", "profile", "where", "what-happened"):
        assert body[field]["validations"]["required"] is True, f"{field} must be required"
    assert body["lab"]["attributes"]["options"] == [lab_title(lab) for lab in LABS], "the form's labs"
    assert tuple(body["profile"]["attributes"]["options"]) == PROFILES
    places = " ".join(body["where"]["attributes"]["options"])
    assert "Colab, CPU" in places and "Colab, GPU" in places and "Locally" in places


def test_every_issue_form_names_its_fields_once():
    forms = [p for p in _yaml_files(GITHUB / "ISSUE_TEMPLATE") if p.name != "config.yml"]
    assert {p.name for p in forms} >= {"lab-problem.yml", "errata.yml"}
    for path in forms:
        form = yaml.safe_load(path.read_text())
        assert form["name"] and form["description"] and form["body"], path.name
        fields = [item for item in form["body"] if item["type"] != "markdown"]
        ids = [item["id"] for item in fields]
        assert len(ids) == len(set(ids)), f"{path.name}: an id twice"
        assert all(item["attributes"]["label"] for item in fields), path.name
    config = yaml.safe_load((GITHUB / "ISSUE_TEMPLATE" / "config.yml").read_text())
    for link in config["contact_links"]:
        assert link["url"].startswith(_book_config()["html"]["baseurl"]), link["url"]


def _makefile_targets() -> set[str]:
    targets = set()
    for line in (ROOT / "Makefile").read_text().splitlines():
        m = re.match(r"^([\w.-]+(?:[ \t]+[\w.-]+)*)[ \t]*:(?!=)", line)
        if m:
            targets.update(m.group(1).split())
    return targets


def _named_make_targets() -> dict[str, set[str]]:
    """``{file: make targets it names}``: in the workflows' ``run:`` steps, and in RELEASING.md's
    and CONTRIBUTING.md's code (`` `make X` ``, or a code block's line that starts ``make X``)."""
    named = {
        name: set(re.findall(r"\bmake ([a-z][\w-]*)", "\n".join(s.get("run", "") for s in _steps(workflow))))
        for name, workflow in _workflows().items()
    }
    for doc in ("RELEASING.md", "CONTRIBUTING.md"):
        text = (ROOT / doc).read_text()
        named[doc] = set(re.findall(r"`make ([a-z][\w-]*)", text)) | set(
            re.findall(r"^\s*make ([a-z][\w-]*)", text, re.M)
        )
    return named


def test_every_make_target_the_release_files_name_exists():
    targets = _makefile_targets()
    assert {"book", "test", "sync-labs", "colab-env"} <= targets, "the Makefile was not read"
    missing = {f: named - targets for f, named in _named_make_targets().items() if named - targets}
    unknown = {
        f: names - set(PENDING_TARGETS) for f, names in missing.items() if names - set(PENDING_TARGETS)
    }
    assert not unknown, f"files name make targets the Makefile lacks: {unknown}"
    pending = sorted({name for names in missing.values() for name in names})
    if pending:
        pytest.skip("not in the Makefile yet: " + ", ".join(PENDING_TARGETS[n] for n in pending))
