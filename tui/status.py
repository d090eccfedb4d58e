"""Status: daemon uptime, queue depth and throughput (sparkline), failures with a retry
action, model versions with their metrics, and the most recent daemon events.

The models part is the training dashboard (``models.history``): per task the held-out
accuracy and the acceptance of each version as sparklines (oldest → newest), what the
last drift check found, why the last run trained, and a training running now with its
stage and ETA; the table gives each version's figures, acceptance and reason."""

from __future__ import annotations

import json
import time
from collections import deque
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.css.query import NoMatches
from textual.widgets import DataTable, Footer, RichLog, Static

from djml.client import RemoteError
from djml.protocol import METHOD_NOT_FOUND

from djml.render import fmt_uptime, model_members
from djml.safetext import display

from .connection import DaemonUnavailable
from .daemon_screen import DaemonScreen
from .messages import DaemonConnected, DaemonEvent, DaemonLost
from .widgets.badges import markup_safe
from .widgets.columns import flex_column
from .widgets.help import HelpScreen, screen_keys
from .widgets.spark import spark

POLL_SECONDS = 2.0
HISTORY = 40


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def model_figure(model: dict[str, Any]) -> dict[str, Any] | None:
    """The version's accuracy with its n and 95 % interval (djml.models.evaluate.figure)."""
    from djml.models.evaluate import figure

    return figure(_json(model.get("metrics")), _json(model.get("metadata")))


def accuracy(model: dict[str, Any]) -> float | None:
    fig = model_figure(model)
    return None if fig is None else fig["accuracy"]


class StatusScreen(DaemonScreen):
    AUTO_FOCUS = "#failures"
    BINDINGS = [
        Binding("t", "retry", "retry failed file (or Enter)"),
        Binding("r", "refresh", "refresh"),
        Binding("question_mark", "help", "help", key_display="?"),
    ]

    def __init__(self, clock=time.strftime) -> None:
        super().__init__()
        self.throughput: deque[float] = deque(maxlen=HISTORY)
        self._last_sample: tuple[Any, Any] | None = None   # (done, files/s) of the last status answer
        self.failures: list[dict[str, Any]] = []
        self.models: list[dict[str, Any]] = []
        self.history: dict[str, dict[str, Any]] = {}   # task -> models.history entry
        self._clock = clock
        self._history_shown = False

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="status-body"):
            yield Static("Status · connecting…", id="status-summary")
            yield Static("Failures (Enter retries)", classes="section")
            yield DataTable(id="failures", cursor_type="row")
            yield Static("Models", classes="section")
            yield DataTable(id="models", cursor_type="row")
            yield Static("", id="accuracy")
            yield Static("Recent events", classes="section")
            yield RichLog(id="events", max_lines=200, wrap=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        failures = self.query_one("#failures", DataTable)
        failures.add_column("File", key="file", width=24)   # the name first: paths share their start
        failures.add_column("Why", key="error", width=30)
        failures.add_column("Folder", key="folder", width=20)
        models = self.query_one("#models", DataTable)
        for key, title in (("task", "Task"), ("version", "Version"), ("estimator", "Model"),
                           ("active", "Active"), ("acc", "Acc"), ("accepted", "Accepted"),
                           ("created", "Created"), ("reason", "Why trained")):
            models.add_column(title, key=key)
        self.set_interval(POLL_SECONDS, self._poll)

    def on_resize(self) -> None:
        flex_column(self.query_one("#failures", DataTable), "error", minimum=20, maximum=120,
                    scaled={"file": (24, 48), "folder": (14, 50)})

    def _poll(self) -> None:
        if self.app.link.connected and self.app.screen is self:
            self.refresh_status()
            if any(t.get("training") for t in self.history.values()):
                self.refresh_lists()   # a training runs: its stage and ETA move

    def on_daemon_connected(self, message: DaemonConnected) -> None:
        if not message.initial:   # news, not the state this screen was mounted in
            self._log("connected", {"pid": self.app.link.server.get("pid")})
        self.load_history()
        self.refresh_all()

    @work(exclusive=True, group="status-history")
    async def load_history(self) -> None:
        """What happened before this screen listened (the daemon keeps its last events)."""
        if self._history_shown:
            return
        try:
            events = await self.app.request("events.recent", limit=HISTORY)
        except (DaemonUnavailable, RemoteError):
            return
        self._history_shown = True
        for e in events:
            self._log(e["event"], e["data"], at=time.strftime("%H:%M:%S", time.localtime(e["at"])))

    def on_daemon_lost(self, message: DaemonLost) -> None:
        if not message.initial:
            self._log("disconnected", {"reason": message.reason})

    def on_daemon_event(self, message: DaemonEvent) -> None:
        name, data = message.name, message.data
        self._log(name, data)
        if name == "queue.progress" and isinstance(data.get("files_per_second"), (int, float)):
            self.throughput.append(float(data["files_per_second"]))
        if name in ("item.failed", "model.trained", "model.training", "model.drift"):
            self.refresh_all()

    def _log(self, name: str, data: dict[str, Any], at: str | None = None) -> None:
        brief = ", ".join(f"{k}={v}" for k, v in data.items() if not isinstance(v, (dict, list)))[:120]
        self.query_one("#events", RichLog).write(f"{at or self._clock('%H:%M:%S')} {name} {brief}")

    # -- loading -------------------------------------------------------------------------------

    def refresh_all(self) -> None:
        self.refresh_status()
        self.refresh_lists()

    @work(exclusive=True, group="status-poll")
    async def refresh_status(self) -> None:
        try:
            info = await self.app.request("status")
        except (DaemonUnavailable, RemoteError) as exc:
            info = None
            message = f"Status · daemon not reachable: {exc}"
        try:
            summary = self.query_one("#status-summary", Static)
        except NoMatches:  # the answer came after the screen closed (the app is quitting)
            return
        if info is None:
            summary.update(message)
            return
        queue = info.get("queue", {})
        # A point per change, not per poll: the same answer twice (an idle or a stalled
        # queue, a slow screen polling more often) must not stretch the sparkline.
        sample = (queue.get("done"), queue.get("files_per_second"))
        if not self.throughput or ((queue.get("queued") or queue.get("running")) and sample != self._last_sample):
            self.throughput.append(float(queue.get("files_per_second") or 0.0))
        self._last_sample = sample
        summary.update(self._summary(info))

    def _summary(self, info: dict[str, Any]) -> Text:
        q, lib = info.get("queue", {}), info.get("library", {})
        text = Text()
        text.append("Daemon ", style="bold")
        text.append(f"pid {info.get('pid')} · v{info.get('version')} · up {fmt_uptime(info.get('uptime', 0))}"
                    f" · {info.get('workers')} worker(s) · watching {len(info.get('watching', []))} folder(s)\n")
        text.append("Queue  ", style="bold")
        text.append(f"{q.get('queued', 0)} queued · {q.get('running', 0)} running · {q.get('settling', 0)} settling"
                    f" · {q.get('done', 0)} done · {q.get('failures', 0)} failed\n")
        text.append("Speed  ", style="bold")
        text.append(f"{q.get('files_per_second', 0):.2f} files/s  {spark(list(self.throughput), lo=0)}\n")
        text.append("Library ", style="bold")
        text.append(f"{lib.get('tracks', 0)} tracks · {lib.get('samples', 0)} samples · {lib.get('labels', 0)} labels"
                    f" · {lib.get('missing', 0)} missing · {lib.get('failed', 0)} failed")
        return text

    @work(exclusive=True, group="status-lists")
    async def refresh_lists(self) -> None:
        try:
            failures = await self.app.request("failed")
            models = await self.app.request("models.list")
            history = await self._history()
        except (DaemonUnavailable, RemoteError) as exc:
            self.notify(f"status: {exc}", severity="error")
            return
        try:
            table = self.query_one("#failures", DataTable)
        except NoMatches:  # the answers came after the screen closed (the app is quitting)
            return
        self.failures, self.models = failures, models
        self.history = {t["task"]: t for t in history}
        versions = {v["version"]: v for t in history for v in t["versions"]}
        table.clear()
        for f in failures:
            path = Path(f["path"])
            table.add_row(display(path.name), display(f.get("error") or ""), display(str(path.parent)), key=f["path"])
        if not failures:
            table.add_row("(no failed files)", "", "")
        mt = self.query_one("#models", DataTable)
        mt.clear()
        for m in models:
            fig = model_figure(m)
            known = versions.get(m["version"], {})
            accepted = known.get("acceptance") or {}
            mt.add_row(m["task"], m["version"], model_members(m.get("estimator", ""), _json(m.get("metadata"))),
                       "●" if m.get("active") else "✗" if known.get("status") == "rejected" else "",
                       "–" if fig is None else f"{100 * fig['accuracy']:.0f}% ({fig['correct']}/{fig['n']})",
                       f"{accepted['accepted']}/{accepted['n']}" if accepted.get("n") else "–",
                       str(m.get("created_at", ""))[:16], display(known.get("reason") or "–"), key=m["version"])
        self._render_accuracy(models)

    async def _history(self) -> list[dict[str, Any]]:
        """The dashboard's data; empty from a daemon that predates ``models.history``."""
        try:
            return (await self.app.request("models.history"))["tasks"]
        except RemoteError as exc:
            if exc.code == METHOD_NOT_FOUND:
                return []
            raise

    def _render_accuracy(self, models: list[dict[str, Any]]) -> None:
        """Per task, oldest → newest: held-out accuracy and acceptance per version as
        sparklines, the latest figure, then drift, the last run and a training running now."""
        by_task: dict[str, list[dict[str, Any]]] = {}
        for m in models:
            by_task.setdefault(m["task"], []).append(m)
        text = Text()
        for task, rows in sorted(by_task.items()):
            rows.sort(key=lambda m: str(m.get("created_at", "")))
            values = [accuracy(m) for m in rows]
            last = next((f for f in map(model_figure, reversed(rows)) if f is not None), None)
            text.append(f"{task:<12} ", style="bold")
            text.append(f"acc {spark(values, lo=0.0, hi=1.0)} ")
            info = self.history.get(task)
            if info:
                rates = [(v.get("acceptance") or {}).get("rate") for v in info["versions"]]
                text.append(f"accepted {spark(rates, lo=0.0, hi=1.0) or '–'} ")
            text.append(f"{len(rows)} version(s)" + ("" if last is None else
                        f", latest {100 * last['accuracy']:.0f}% on {last['n']}"
                        f" ({100 * last['low']:.0f}–{100 * last['high']:.0f}%)") + "\n")
            if info:
                self._render_monitor(text, info)
        if not models:
            text.append("No trained models yet: label items in the review queue (R).", style="dim")
        self.query_one("#accuracy", Static).update(text)

    @staticmethod
    def _render_monitor(text: Text, info: dict[str, Any]) -> None:
        pad = "  "
        active = next((v for v in info["versions"] if v.get("active")), None)
        drift = (active or {}).get("drift")
        if drift and drift.get("drifted"):
            text.append(f"{pad}drift: ", style="bold yellow")
            text.append(display(drift.get("message") or ", ".join(drift.get("features", []))) + "\n")
        elif drift:
            text.append(f"{pad}no drift in {drift.get('n_items', 0)} new items\n", style="dim")
        if info.get("runs"):
            run = info["runs"][0]
            text.append(f"{pad}last run {str(run.get('finished_at', ''))[:16]}: {run.get('status')}"
                        f" ({display(run.get('reason') or '')})\n", style="dim")
        live = info.get("training")
        if live:
            eta = f", about {live['eta']:.0f} s left" if live.get("eta") is not None else ""
            text.append(f"{pad}training now: ", style="bold")
            text.append(f"{live.get('stage')}{' (' + display(live['detail']) + ')' if live.get('detail') else ''}"
                        f" {live.get('step')}/{live.get('steps')}"
                        f" {'■' * live.get('step', 0)}{'□' * (live.get('steps', 0) - live.get('step', 0))}"
                        f" · {live.get('elapsed', 0):.0f} s{eta} ({display(live.get('reason') or '')})\n")

    # -- actions -------------------------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "failures":
            self.action_retry()

    def action_retry(self) -> None:
        table = self.query_one("#failures", DataTable)
        if not self.failures or table.cursor_row is None or table.cursor_row >= len(self.failures):
            self.notify("no failed file selected", severity="warning")
            return
        self.retry(self.failures[table.cursor_row]["path"])

    @work(group="status-retry")
    async def retry(self, path: str) -> None:
        try:
            result = await self.app.request("retry", path=path)
        except (DaemonUnavailable, RemoteError) as exc:
            self.notify(f"retry failed: {markup_safe(exc)}", severity="error", timeout=10)
            return
        shown = markup_safe(result.get("path", path))
        self.notify(f"queued again: {shown}" if result.get("queued") else f"already queued: {shown}")

    def action_refresh(self) -> None:
        self.refresh_all()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen("Status", screen_keys(self.BINDINGS)))
