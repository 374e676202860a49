"""The CLI's width-aware layouts (``lolpop.cli.layout``), rendered by rich at several widths."""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from lolpop.cli.layout import MIN_PIECE, Column, Listing, Wrapped, split_word, wrap, wrap_items


def render(renderable: object, width: int) -> list[str]:
    out = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    out.print(renderable)
    return out.export_text().splitlines()


@pytest.mark.parametrize("word,width,pieces", [
    ("breast_cancer_model", 18, ["breast_cancer_", "model"]),
    ("GradientBoostingClassifier", 18, ["GradientBoosting", "Classifier"]),
    ("winning_experiment_id=885a014b.breast_cancer_model", 30,
     ["winning_experiment_id=", "885a014b.breast_cancer_model"]),
    ("run/model/requirements.txt", 18, ["run/model/", "requirements.txt"]),
    ("be2cffb0a777f02d171602bb582c3e327594b16f", 39, ["be2cffb0a777f02d171602bb582c3e327594b", "16f"]),
])
def test_words_break_where_a_reader_expects(word, width, pieces):
    assert split_word(word, width) == pieces


@pytest.mark.parametrize("width", range(2 * MIN_PIECE, 40))
def test_a_broken_word_never_strands_a_letter_or_two(width):
    for word in ("abcdefghijklmnopqrstuvwxyz0123456789" * 2, "breast_cancer_model_predictions",
                 "2add56b9f86d421fab8d4c133f63f090.breast_cancer_model", "日本語のテキスト" * 4):
        pieces = split_word(word, width)
        assert "".join(pieces) == word
        assert all(cell_len(p) <= width for p in pieces), (width, pieces)  # wide characters count twice
        assert all(cell_len(p) >= MIN_PIECE for p in pieces[1:]), (width, pieces)


def test_items_stay_whole_when_they_fit():
    items = ["model_trainer=LogisticRegression", "previous_deployed_run_id=7d5e0942",
             "winning_experiment_id=885a014b.breast_cancer_model"]
    assert wrap_items(items, 76) == ["model_trainer=LogisticRegression  previous_deployed_run_id=7d5e0942",
                                     "winning_experiment_id=885a014b.breast_cancer_model"]
    assert wrap_items(items, 34) == items[:2] + ["winning_experiment_id=", "885a014b.breast_cancer_model"]
    assert wrap("2026-12-06 18:25:16", 12) == ["2026-12-06", "18:25:16"]


@pytest.mark.parametrize("width", [50, 80])
def test_wrapped_cells_give_way_before_ids(width):
    table = Table()
    table.add_column("run id", no_wrap=True)
    table.add_column("value")
    table.add_row("e998d9cd45824950b422e3513af29c16",
                  Wrapped('{"remainder": "passthrough", "sparse_threshold": 0.0, "estimator": "StandardScaler"}'))
    lines = render(table, width)
    assert all(cell_len(line) <= width for line in lines)
    assert any("e998d9cd45824950b422e3513af29c16" in line for line in lines)


def listing() -> Listing:
    rows = Listing(Text("History"), [Column("run id"), Column("start (UTC)"), Column("run", move=2, usual="FINISHED"),
                                     Column("status"), Column("hexsha", move=1)])
    rows.add_row([Text("e998d9cd45824950b422e3513af29c16"), Text("2026-12-06 18:25:19"), Text("FINISHED"),
                  Text("DEPLOYED"), Text("be2cffb0a7")], ["model_trainer=LogisticRegression"])
    rows.add_row([Text("7d5e0942cbd447bbb95c1abdc7f3646c"), Text("2026-12-06 18:25:16"), Text("FAILED"),
                  Text("PROMOTED"), Text("3f03015443")], [])
    return rows


def test_a_listing_keeps_every_column_on_the_row_when_it_fits():
    lines = render(listing(), 100)
    assert lines[1].split() == ["run", "id", "start", "(UTC)", "run", "status", "hexsha"]
    assert lines[3].split() == ["e998d9cd45824950b422e3513af29c16", "2026-12-06", "18:25:19", "FINISHED", "DEPLOYED",
                                "be2cffb0a7"]
    assert lines[4] == "    model_trainer=LogisticRegression"


def test_a_listing_moves_columns_below_the_row_highest_rank_first():
    lines = render(listing(), 80)  # 85 wide with every column: "run" goes below
    assert lines[1].split() == ["run", "id", "start", "(UTC)", "status", "hexsha"]
    assert lines[4] == "    model_trainer=LogisticRegression"  # FINISHED is the usual: not repeated below
    assert lines[6] == "    run FAILED"
    lines = render(listing(), 70)  # then hexsha
    assert lines[4] == "    hexsha be2cffb0a7  model_trainer=LogisticRegression"
    assert all(cell_len(line) <= 70 for line in lines)


def test_a_listing_narrower_than_its_kept_columns_wraps_between_them():
    lines = render(listing(), 40)
    assert all(cell_len(line) <= 40 for line in lines)
    assert any("e998d9cd45824950b422e3513af29c16" in line for line in lines)  # whole, on a line of its own
    assert any("DEPLOYED" in line for line in lines)


def test_listing_text_is_never_markup():
    rows = Listing(Text("t"), [Column("a"), Column("b", move=1)])
    rows.add_row([Text("[bold]x[/bold]"), Text("[link=http://e.example]y[/link]")], ["[red]z[/red]"])
    out = "\n".join(render(rows, 60))
    assert "[bold]x[/bold]" in out and "[link=http://e.example]y[/link]" in out and "[red]z[/red]" in out
