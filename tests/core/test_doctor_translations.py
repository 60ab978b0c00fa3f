"""Login failures from a server that speaks another language come without a SQLSTATE (psycopg
gives none while connecting): the doctor knows them from PostgreSQL's own translations."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.requirements import skip_or_fail
from tools.server_translations import MESSAGES, catalogs, render, translated
from wizard.core.doctor import TRANSLATIONS_FILE, diagnose

LOCALES = Path("/usr/share/locale")
# Other names than any test elsewhere uses: the patterns must not depend on them.
NAMES = ("192.0.2.77", "report_writer", "analytics_prod", "SSL-Verschlüsselung")


@pytest.fixture(scope="module")
def tables() -> dict[str, object]:
    found = catalogs(LOCALES)
    if "de" not in found:
        skip_or_fail("needs PostgreSQL 15's message catalogs: apt-get install postgresql-15")
    return dict(found)


def _filled(template: str, count: int) -> str:
    text = template
    for value in NAMES[:count]:
        text = text.replace("%s", value, 1)
    return text


def test_the_shipped_translations_are_exactly_the_catalogs(tables: dict[str, object]) -> None:
    # Regenerate with: python tools/server_translations.py
    assert render(tables) == TRANSLATIONS_FILE.read_text(encoding="utf-8")  # type: ignore[arg-type]


def test_every_language_is_recognized_in_psycopgs_shape_with_other_names(tables: dict[str, object]) -> None:
    checked = 0
    for rule_id, msgid, last in MESSAGES:
        for language, table in tables.items():
            text = translated(table, msgid, last)  # type: ignore[arg-type]
            if text is None:
                continue
            message = _filled(text, text.count("%s"))
            shaped = f'connection failed: connection to server at "192.0.2.77", port 6543 failed: FATAL:  {message}'
            found = diagnose(shaped)
            assert found.id == rule_id, f"{language}: {message!r} read as {found.id}, expected {rule_id}"
            checked += 1
    assert checked > 150


def test_pg_hba_without_encryption_is_told_apart_from_a_missing_entry(tables: dict[str, object]) -> None:
    german = tables["de"]
    entry = german.gettext('no pg_hba.conf entry for host "%s", user "%s", database "%s", %s')  # type: ignore[attr-defined]
    plain = entry % ("10.1.1.1", "app", "neondb", german.gettext("no encryption"))  # type: ignore[attr-defined]
    encrypted = entry % ("10.1.1.1", "app", "neondb", german.gettext("SSL encryption"))  # type: ignore[attr-defined]
    assert diagnose(f"FATAL:  {plain}").id == "ssl-required"
    assert diagnose(f"FATAL:  {encrypted}").id == "no-pg-hba"


def test_a_translated_message_with_a_sqlstate_still_goes_by_the_code() -> None:
    text = "FATAL:  Passwort-Authentifizierung für Benutzer »app« fehlgeschlagen"
    assert diagnose(text, sqlstate="28P01").id == "password-failed"
    assert diagnose("ERROR:  Rolle »app« existiert nicht", sqlstate="42704").id != "database-missing"
