"""Tables that never cut a code or a name short.

Rich fits a table to the terminal by wrapping and, when that is not enough, by cutting cells
short with an ellipsis ("devon-and-cornw…"): a code or a boundary set's name read that way is
wrong, not just untidy. ``print_table`` keeps every column at least as wide as its longest word,
renders the table at the terminal's width and checks that every word of every cell came out
whole; if not, it tries again without the frame (one space between columns), and if that does
not fit either it prints each row as a block of ``column: value`` lines, which fits any width.
The title and caption go on lines of their own, never wrapped by Rich, so a long data folder in
them stays one piece too.

Every string in a table (title, caption, header, cell) is plain text, never Rich markup: cells
hold area names, set titles and paths, and "Tor [/] quay" must print as it is. A styled cell is
given as a rich.text.Text.
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cli.common import console


def print_table(table: Table, target: Console | None = None) -> None:
    """Print ``table`` on ``target`` (stdout by default) with every cell whole."""
    target = target or console
    _plain_cells(table)
    title, table.title = table.title, None
    caption, table.caption = table.caption, None
    if title:
        target.print(Text(_plain(title), style="bold"), soft_wrap=True, highlight=False)
    _keep_words_whole(table)
    if not _fits(table, target):
        _compact(table)
    if _fits(table, target):
        target.print(table)
    else:
        _print_rows(table, target)
    if caption:
        target.print(Text(_plain(caption), style="dim"), soft_wrap=True, highlight=False)


def _plain_cells(table: Table) -> None:
    """Every header and cell as Text, so that Rich reads none of them as markup."""
    for column in table.columns:
        column.header = _text(column.header)
        column._cells = [_text(cell) for cell in column.cells]  # Rich keeps no public setter


def _cell_texts(table: Table) -> list[list[Text]]:
    """The table's rows, each a list of its cells as Text."""
    columns = [[_text(cell) for cell in column.cells] for column in table.columns]
    return [list(row) for row in zip(*columns, strict=True)]


def _keep_words_whole(table: Table) -> None:
    """No column narrower than its longest word (header or cell): Rich then wraps between
    words, never inside one."""
    for column in table.columns:
        texts = [_text(column.header), *(_text(cell) for cell in column.cells)]
        words = [word for text in texts for word in text.plain.split()]
        column.min_width = max(map(len, words), default=1)


def _compact(table: Table) -> None:
    """The same table with no frame and one space between columns: about two characters a
    column narrower, often enough for an 80-column terminal."""
    table.box = box.SIMPLE_HEAD
    table.show_edge = False
    table.pad_edge = False
    table.collapse_padding = True


def _fits(table: Table, target: Console) -> bool:
    """True when the table rendered at the terminal's width shows every word of every cell."""
    lines = target.render_lines(table, target.options, pad=False)
    rendered = "\n".join("".join(segment.text for segment in line) for line in lines)
    headers = [_plain(column.header) for column in table.columns]
    words = {word for row in _cell_texts(table) for cell in row for word in cell.plain.split()}
    words.update(word for header in headers for word in header.split())
    return all(word in rendered for word in words)


def _print_rows(table: Table, target: Console) -> None:
    """Each row as ``column: value`` lines, rows apart by a blank line."""
    headers = [_plain(column.header) for column in table.columns]
    for index, row in enumerate(_cell_texts(table)):
        if index:
            target.print()
        for header, cell in zip(headers, row, strict=True):
            line = Text.assemble((f"{header}: ", "bold"), cell)
            target.print(line, soft_wrap=True, highlight=False)


def _text(cell: object) -> Text:
    if isinstance(cell, Text):
        return cell
    return Text(str(cell))  # a str too: plain text, not markup


def _plain(value: object) -> str:
    return _text(value).plain if value is not None else ""
