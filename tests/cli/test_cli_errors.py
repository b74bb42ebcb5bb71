"""Mistakes on the command line are one line on stderr with exit status 2: argparse's own
errors (it printed its whole usage block first), a misspelt command, a missing file."""

from __future__ import annotations

import pytest

from coloc_viewer.cli.main import main


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("argv, said", [
    (["analyze", "x", "--rank", "best"], "argument --rank: invalid choice: 'best'"),
    (["refine", "demo-shortcut", "--epochs", "abc"], "argument --epochs: invalid int value"),
    (["cohort", "m.csv", "--workers", "x"], "argument --workers: invalid int value"),
    (["analyze"], "the following arguments are required"),
])
def test_argparse_errors_are_one_line_pointing_at_the_help(capsys, argv, said):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    line = _one_line(capsys)
    assert said in line and f"coloc-viewer {argv[0]} --help" in line, line


def test_a_misspelt_command_and_a_missing_file_are_named(capsys, tmp_path):
    assert main(["analyse", "x"]) == 2
    assert "no command 'analyse' (did you mean 'analyze'?)" in _one_line(capsys)
    missing = tmp_path / "nowhere.dcm"
    assert main([str(missing)]) == 2
    assert f"{missing}: no such file or folder" in _one_line(capsys)
