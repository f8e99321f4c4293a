"""A missing browser is a skip on a developer's machine and a failure in CI,
as a missing server is (tests/servers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import browser_support


@pytest.fixture
def no_chromium(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(browser_support, "CHROMIUM", tmp_path / "no-chromium")


@pytest.mark.usefixtures("no_chromium")
def test_a_missing_browser_fails_the_run_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    refusal = r"Chromium unavailable: .*no-chromium not installed"
    with pytest.raises(pytest.fail.Exception, match=refusal), browser_support.chromium():
        pass


@pytest.mark.usefixtures("no_chromium")
def test_a_missing_browser_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"), browser_support.chromium():
        pass
