"""Tables that use the terminal's width: one "flex" column (the name) takes what the
other columns leave, so a name is not clipped to 26 characters at 120 or 200 columns and
still fits at 80.

Textual's DataTable sizes a column by its content or a fixed width only; the width is
set again on every resize (through the table's own column metadata)."""

from __future__ import annotations

from textual.widgets import DataTable


def flex_column(table: DataTable, key: str, minimum: int = 16, maximum: int = 120,
                scaled: dict[str, tuple[int, int]] | None = None) -> None:
    """Give column ``key`` the table's width left over by the other columns. ``scaled``
    columns (key → (width at 80 columns, width from 160)) grow with the terminal too."""
    column = table.columns.get(key)  # type: ignore[call-overload]
    if column is None or not table.size.width:
        return
    for other, (narrow, wide) in (scaled or {}).items():
        if (col := table.columns.get(other)) is not None:  # type: ignore[call-overload]
            share = min(1.0, max(0.0, (table.size.width - 80) / 80))
            col.width, col.auto_width = round(narrow + share * (wide - narrow)), False
    others = sum(c.get_render_width(table) for k, c in table.columns.items() if k != key)
    scrollbar = table.styles.scrollbar_size_vertical or 0
    width = max(minimum, min(maximum, table.size.width - others - scrollbar - 2 * table.cell_padding))
    if column.width == width and not column.auto_width:
        return
    column.width, column.auto_width = width, False
    table._clear_caches()
    table._require_update_dimensions = True
    table.refresh(layout=True)
