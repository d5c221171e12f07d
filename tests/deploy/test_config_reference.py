import subprocess
import sys

from shared.config_reference import (
    BEGIN_MARKER,
    END_MARKER,
    MissingSettings,
    SettingsSection,
    between_markers,
    collect,
    render,
    replace_between_markers,
)
from shared.settings import CommonSettings
from tests.deploy.artifacts import OPERATIONS_DOC, ROOT


def test_every_common_setting_is_listed_with_its_variable_and_description() -> None:
    [common] = [e for e in collect(["shared.settings.CommonSettings"]) if isinstance(e, SettingsSection)]
    rows = {s.name: s for s in common.settings}
    assert set(rows) == set(CommonSettings.model_fields)
    assert rows["database_url"].env_var == "TOUCHPOINT_DATABASE_URL"
    assert rows["kafka_idempotence"].default == "`true`"
    assert rows["topic_prefix"].default == "*(empty)*"
    assert all(s.description for s in common.settings)


def test_service_settings_list_only_their_own_fields() -> None:
    entries = collect(["shared.settings.CommonSettings", "services.ingest.config.IngestSettings"])
    ingest = next(e for e in entries if isinstance(e, SettingsSection) and e.path.endswith("IngestSettings"))
    assert ingest.inherits_base
    names = {s.name for s in ingest.settings}
    assert names and not names & set(CommonSettings.model_fields)
    assert "Also reads every setting of `shared.settings.CommonSettings`." in render(entries)


def test_settings_that_do_not_exist_yet_are_reported_not_fatal() -> None:
    entries = collect(["shared.settings.CommonSettings", "services.nowhere.config.NoSettings",
                       "shared.settings.NoSuchSettings"])
    missing = [e for e in entries if isinstance(e, MissingSettings)]
    assert [m.path for m in missing] == ["services.nowhere.config.NoSettings", "shared.settings.NoSuchSettings"]
    text = render(entries)
    assert "`services.nowhere.config.NoSettings` (module services.nowhere.config does not exist yet)" in text
    assert "`TOUCHPOINT_DATABASE_URL`" in text


def test_markers_are_replaced_in_place() -> None:
    document = f"intro\n{BEGIN_MARKER}\nold table\n{END_MARKER}\noutro\n"
    updated = replace_between_markers(document, "new table\n")
    assert updated == f"intro\n{BEGIN_MARKER}\nnew table\n{END_MARKER}\noutro\n"
    assert between_markers(updated) == "new table\n"


def test_the_command_prints_the_reference() -> None:
    result = subprocess.run([sys.executable, "-m", "shared.config_reference"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "| `kafka_bootstrap` | `TOUCHPOINT_KAFKA_BOOTSTRAP` |" in result.stdout


def test_the_operations_guide_carries_the_current_reference() -> None:
    assert between_markers(OPERATIONS_DOC.read_text()) == render(collect()), (
        "regenerate it: python -m shared.config_reference --write README.md"
    )
