"""The load message: short rich output in notebooks, one plain line in terminals."""

from __future__ import annotations

import pytest

pytest.importorskip("IPython")

from .ipython_helpers import loaded_shell  # noqa: E402


def test_load_message_is_short_rich_text_with_a_plain_text_line(isolated, monkeypatch):
    from IPython.utils.capture import capture_output

    from carbon_magic.ipython import extension

    monkeypatch.setattr(extension, "LOAD_BUDGET_S", 5.0)  # the full message, not "still finding"
    shell = loaded_shell(monkeypatch)
    shell.extension_manager.unload_extension("carbon_magic")
    with capture_output() as captured:
        shell.run_line_magic("load_ext", "carbon_magic")
    shell.extension_manager.unload_extension("carbon_magic")
    [shown] = captured.outputs
    text, rich = shown.data["text/plain"], shown.data["text/html"]
    assert text.startswith("carbon_magic ") and "\n" not in text and "France" in text
    assert "<pre" not in rich and "monospace" not in rich and "`" not in rich
    assert "France" in rich and "<code>%%carbon</code>" in rich and "<code>%carbon on</code>" in rich
    assert rich.count("<br>") <= 3  # a few short lines, each a phrase
