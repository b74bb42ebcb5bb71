"""Where the viewer keeps its settings: ``$COLOC_VIEWER_CONFIG_DIR`` (a separate
configuration, as for the PACS servers) keeps it away from the user's own file."""

from __future__ import annotations

from pathlib import Path


def test_config_dir_holds_the_viewer_settings(qapp, tmp_path, monkeypatch):
    from coloc_viewer.gui.settings import add_recent, open_settings, recent_studies
    from coloc_viewer.pacs.servers import settings_file

    monkeypatch.delenv("COLOC_VIEWER_NO_SETTINGS", raising=False)
    monkeypatch.setenv("COLOC_VIEWER_CONFIG_DIR", str(tmp_path / "config"))
    settings = open_settings()
    assert Path(settings.fileName()) == tmp_path / "config" / "viewer.ini"
    assert Path(settings.fileName()).parent == settings_file().parent  # one folder
    add_recent(settings, "/data/study")
    settings.sync()
    assert recent_studies(open_settings()) == ["/data/study"]
    assert "/data/study" in (tmp_path / "config" / "viewer.ini").read_text()
