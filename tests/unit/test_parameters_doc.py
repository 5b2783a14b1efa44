"""docs/parameters.md is what tools/parameters.py writes from template.yaml and
tools/parameter_notes.yaml: a changed parameter (default, allowed values, a new one) fails here
until `make parameters` is run."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tools import parameters

pytestmark = pytest.mark.unit


def test_the_parameter_reference_is_what_the_generator_writes_from_the_template():
    # Given the template and the notes, as committed
    # When the generator renders the reference
    # Then docs/parameters.md is exactly that
    assert parameters.DOC.read_text() == parameters.render(), "run `make parameters`"


def test_every_parameter_has_a_section_with_its_default_allowed_values_and_notes():
    template = parameters.load(parameters.TEMPLATE)["Parameters"]
    text = parameters.render()
    for name, spec in template.items():
        section = text.split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]
        assert f"- Type: {spec['Type']}; default " in section
        assert parameters.allowed(spec) in section
        assert "- When to change it: " in section
        assert "- Interacts with: " in section


def test_a_template_change_or_a_missing_note_changes_or_stops_the_reference(tmp_path: Path):
    # Given the template with SweepRateMinutes' default changed, and with a parameter added
    template = parameters.load(parameters.TEMPLATE)
    template["Parameters"]["SweepRateMinutes"]["Default"] = 5
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(template))
    added = tmp_path / "added.yaml"
    template["Parameters"]["BrandNew"] = {"Type": "String", "Default": ""}
    added.write_text(yaml.safe_dump(template))
    # Then the first renders differently, and the second is refused until its notes exist
    assert parameters.render(changed) != parameters.DOC.read_text()
    assert "default `5`" in parameters.render(changed)
    with pytest.raises(ValueError, match="BrandNew"):
        parameters.render(added)


def test_the_check_mode_fails_on_a_stale_file_and_names_the_fix(tmp_path, monkeypatch, capsys):
    # Given the committed reference, then a stale copy of it
    assert parameters.main(["--check"]) == 0
    stale = tmp_path / "docs" / "parameters.md"
    stale.parent.mkdir()
    stale.write_text(parameters.render().replace("default `15`", "default `30`"))
    monkeypatch.setattr(parameters, "DOC", stale)
    monkeypatch.setattr(parameters, "ROOT", tmp_path)
    # When it is checked
    code = parameters.main(["--check"])
    # Then the check fails and says what to run, without rewriting the file
    assert code == 1
    assert "make parameters" in capsys.readouterr().err
    assert "default `30`" in stale.read_text()
