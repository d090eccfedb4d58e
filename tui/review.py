"""The review queue: items whose predictions are unsure, in the daemon's learning-value
order; one keypress labels the focused item and moves on.

Labels apply at once (optimistic: the item leaves the queue and the cursor moves) and are
confirmed by the daemon in the background; an error puts the item back where it was and
says why. ``u`` undoes the newest label (the daemon keeps the history, undo only marks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from djml.client import RemoteError
from djml.protocol import METHOD_NOT_AVAILABLE, METHOD_NOT_FOUND
from djml.safetext import display

from .connection import DaemonUnavailable
from .daemon_screen import DaemonScreen
from .messages import DaemonConnected, DaemonEvent, DaemonLost
from .offline import OFFLINE_HINT
from .widgets.badges import bpm_text, energy_text, key_text, name_text
from .widgets.bars import prediction_lines
from .widgets.help import HelpScreen, screen_keys

QUEUE_LIMIT = 500
TASK_NAMES = {"sample_type": "sample", "bucket": "bucket", "genre": "genre", "mood": "mood"}
OPEN_TASKS = ("genre", "mood")   # no fixed classes: the keys offer the labels already in use
SAMPLE_CLASSES = ("kick", "snare", "hihat", "clap", "tom", "cymbal", "perc", "bass", "synth", "vocal",
                  "fx", "loop", "other")


@dataclass
class Done:
    """One label applied from this screen (for undo and rollback)."""

    item: dict[str, Any]
    index: int
    label: str


def _folder_says(details: dict[str, Any], item: dict[str, Any]) -> str | None:
    """The sample class the item's folder name gave (a weak label), when it differs from
    the model's guess: the reviewer should see both."""
    if item["task"] != "sample_type" or details.get("label_source") != "folder":
        return None
    folder = details.get("folder_label")
    return folder if folder and folder != item.get("label") else None


def local_midnight(now: datetime | None = None) -> str:
    """The start of the user's day where the TUI runs (the daemon may be elsewhere)."""
    local = now or datetime.now().astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0).isoformat()


class ReviewScreen(DaemonScreen):
    AUTO_FOCUS = "#queue"
    BINDINGS = [
        Binding("j,down", "move(1)", "next", show=False),
        Binding("k,up", "move(-1)", "previous", show=False),
        *[Binding(str(n), f"choose({n})", "label", show=n == 1, key_display="1-9") for n in range(1, 10)],
        Binding("enter", "accept", "accept"),
        Binding("e", "new_label", "new label", show=False),
        Binding("s", "skip", "skip"),
        Binding("u", "undo", "undo"),
        Binding("slash", "filter", "filter", key_display="/"),
        Binding("p", "preview", "play", show=False),
        Binding("m", "recommend", "similar / next track", show=False),
        Binding("t", "train", "retrain now", show=False),
        Binding("r", "reload", "reload queue", show=False),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("escape", "close_input", "close the input", show=False),
    ]

    def __init__(self, task: str | None = None) -> None:
        super().__init__()
        self.review_task = task
        self.queue: list[dict[str, Any]] = []
        self.details: dict[int, dict[str, Any]] = {}
        self.similar: dict[int, list[dict[str, Any]]] = {}
        self.done: list[Done] = []
        self.labelled: set[tuple[int, str]] = set()
        self.skipped: list[tuple[int, str]] = []
        self.created: dict[str, list[str]] = {}
        self.training: set[str] = set()
        self.bucket_names: list[str] = []   # every bucket (djml.buckets.names), from the daemon
        self.task_labels: dict[str, list[str]] = {}   # genre/mood labels in use, from the daemon
        self.today = 0
        self._in_flight = 0   # labels sent to the daemon and not answered yet, minus undos
        self._writes_done = 0   # label writes answered so far: a count read across one is stale
        self.filter_text = ""
        self._input_mode: str | None = None
        self._refresh_pending = False

    def compose(self) -> ComposeResult:
        yield Static("Review · connecting…", id="review-header", classes="header")
        with Horizontal(id="review-body"):
            yield OptionList(id="queue")
            with VerticalScroll(id="detail"):
                yield Static("", id="detail-text")
        yield Static("", id="choices")
        yield Input(id="review-input", classes="hidden")
        yield Footer(compact=True)

    # -- daemon ------------------------------------------------------------------------------

    def on_daemon_connected(self, message: DaemonConnected) -> None:
        self.reload()

    def on_daemon_lost(self, message: DaemonLost) -> None:
        self.query_one("#review-header", Static).update("Review · no daemon")
        if not self.queue:
            self.query_one("#detail-text", Static).update(OFFLINE_HINT)

    def on_daemon_event(self, message: DaemonEvent) -> None:
        name, data = message.name, message.data
        if name == "model.trained":
            task = data.get("task")
            self.training.discard(task) if task else self.training.clear()
            result = data.get("result") or {}
            if result.get("version"):
                acc = result.get("holdout_accuracy")
                self.notify(f"{task} model {result.get('status', 'trained')}: {result['version']}"
                            + (f" (holdout accuracy {acc:.2f})" if isinstance(acc, (int, float)) else ""))
            self._schedule_reload()
        elif name in ("review.changed", "item.added", "item.updated", "item.missing"):
            self._schedule_reload()
        self._render_header()

    def _schedule_reload(self) -> None:
        if not self._refresh_pending:
            self._refresh_pending = True
            self.set_timer(0.3, self._debounced_reload)

    def _debounced_reload(self) -> None:
        self._refresh_pending = False
        self.reload()

    @work(exclusive=True, group="review-load")
    async def reload(self) -> None:
        try:
            params = {"limit": QUEUE_LIMIT, **({"task": self.review_task} if self.review_task else {})}
            items = await self.app.request("review.list", **params)
            for item in items:
                iid = item["item_id"]
                if iid not in self.details:
                    self.details[iid] = await self.app.request("show", ref=iid)
        except (DaemonUnavailable, RemoteError) as exc:
            self.query_one("#detail-text", Static).update(f"Cannot load the review queue: {exc}")
            return
        try:
            self.bucket_names = [b["name"] for b in await self.app.request("buckets.list")]
        except (DaemonUnavailable, RemoteError) as exc:
            self.notify(f"cannot load the buckets: {exc}", severity="warning")
        self._set_queue(items)
        writes = self._writes_done
        try:   # after the queue is on screen: the header count and the genre/mood keys
            stored = await self.app.request("labels.count", since=local_midnight())
            choices = {task: await self.app.request("labels.choices", task=task) for task in OPEN_TASKS}
        except (DaemonUnavailable, RemoteError) as exc:
            self.notify(f"cannot load the label choices: {exc}", severity="warning")
            return
        self.task_labels.update(choices)   # with the count, in one step: no await in between
        if writes == self._writes_done:   # else the count may or may not hold an answered write:
            self.today = stored + self._in_flight   # that write's own reload counts again
        self._render_header()
        self._render_detail()

    def _set_queue(self, items: list[dict[str, Any]]) -> None:
        """New queue from the daemon, keeping the focused item, skips at the end, and items
        labelled here out (their confirmation may still be on its way)."""
        focused = self.current
        keep = [i for i in items if (i["item_id"], i["task"]) not in self.labelled]
        skipped = {k: n for n, k in enumerate(self.skipped)}
        keep.sort(key=lambda i: skipped.get((i["item_id"], i["task"]), -1))
        self.queue = keep
        self._render_queue(focus=focused)

    # -- rendering -----------------------------------------------------------------------------

    @property
    def visible(self) -> list[dict[str, Any]]:
        if not self.filter_text:
            return self.queue
        needle = self.filter_text.lower()
        return [i for i in self.queue if needle in self._search_text(i)]

    def _search_text(self, item: dict[str, Any]) -> str:
        d = self.details.get(item["item_id"], {})
        return " ".join(str(x) for x in (name_text(d or item), d.get("path"), item.get("label"), item["task"])).lower()

    @property
    def current(self) -> dict[str, Any] | None:
        opts = self.query_one("#queue", OptionList)
        items = self.visible
        if opts.highlighted is None or not 0 <= opts.highlighted < len(items):
            return None
        return items[opts.highlighted]

    def _render_queue(self, focus: dict[str, Any] | None = None, index: int | None = None) -> None:
        opts = self.query_one("#queue", OptionList)
        items = self.visible
        opts.clear_options()
        opts.add_options([Option(self._queue_line(i)) for i in items])
        if items:
            if focus is not None:
                ids = [(i["item_id"], i["task"]) for i in items]
                key = (focus["item_id"], focus["task"])
                index = ids.index(key) if key in ids else index
            opts.highlighted = min(index or 0, len(items) - 1)
        self._render_header()
        self._render_detail()

    def _queue_line(self, item: dict[str, Any]) -> Text:
        """Two lines per item, the same for every item: its name, then which task asks,
        the model's guess with its confidence, and what the sample's folder says. One
        track is in the queue once per task (bucket, genre, mood): the task tells them
        apart."""
        d = self.details.get(item["item_id"], {})
        conf = item.get("confidence")
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(name_text(d or item), style="bold")
        line.append("\n")
        line.append(f"{TASK_NAMES.get(item['task'], item['task'])}: ", style="dim")
        line.append(item.get("label") or "no guess yet")
        if conf is not None:
            line.append(f" {conf:.2f}", style="dim")
        folder = _folder_says(d, item)
        if folder:
            line.append(f" · folder: {display(folder)}", style="italic")
        return line

    def _render_header(self) -> None:
        n = len(self.queue)
        remaining = f"{n}+" if n >= QUEUE_LIMIT else str(n)
        parts = [f"Review{' · ' + self.review_task if self.review_task else ''}", f"{remaining} to review",
                 f"{self.today} labelled today"]
        if self.filter_text:
            parts.append(f"filter “{self.filter_text}” ({len(self.visible)})")
        if self.training:
            parts.append("⟳ retraining " + ", ".join(sorted(self.training)) + "…")
        self.query_one("#review-header", Static).update(" · ".join(parts))

    def _render_detail(self) -> None:
        item = self.current
        text = self.query_one("#detail-text", Static)
        choices = self.query_one("#choices", Static)
        if item is None:
            text.update("Nothing to review. New items appear here as the daemon analyses them."
                        if not self.filter_text else "No queued item matches the filter.")
            choices.update("")
            return
        d = self.details.get(item["item_id"], {})
        out = Text()
        out.append(f"#{item['item_id']} {d.get('kind', '')} · {TASK_NAMES.get(item['task'], item['task'])}"
                   f" ({item['task']})\n", style="dim")
        out.append(f"{name_text(d or item)}\n", style="bold")
        out.append(f"{display(d.get('path')) or '(file path not loaded yet)'}\n", style="dim")
        bpm_conf = f" ({d['bpm_confidence']:.2f})" if d.get("bpm_confidence") is not None else ""
        out.append(f"BPM {bpm_text(d)}{bpm_conf}   Key {key_text(d, long=True)}   Energy {energy_text(d)}\n\n")
        version = item.get("model_version")
        out.append("Predictions" + (f" ({version})" if version else "") + "\n", style="bold")
        out.append_text(prediction_lines(item.get("top") or [], width=16))
        folder = _folder_says(d, item)
        if folder:
            out.append("\n\nYour folder says ", style="bold")
            out.append(f"{folder}", style="bold italic")
            out.append(f" ({display(Path(d.get('path') or '').parent.name)}/): 1–9 or Enter decide")
        why = item.get("reasons") or item.get("why") or item.get("explanation")
        if why:
            out.append("\n\nWhy: ", style="bold")
            out.append("; ".join(why) if isinstance(why, list) else str(why))
        similar = self.similar.get(item["item_id"])
        if similar:
            out.append("\n\nSimilar, already labelled\n", style="bold")
            for s in similar:
                out.append(f"  {s['label']:<10} {name_text(s)}  ({s['score']:.2f})\n")
        text.update(out)
        labels = self.choices(item)
        choices.update("  ".join(f"[b]{n}[/b] {label}" for n, label in enumerate(labels, 1)))
        if item["item_id"] not in self.similar:
            self.load_similar(item["item_id"], item["task"])

    def choices(self, item: dict[str, Any]) -> list[str]:
        """The labels keys 1–9 choose: the task's classes (sample types; the user's buckets)."""
        task = item["task"]
        if task == "sample_type":
            base = list(SAMPLE_CLASSES)
        elif task == "bucket":
            base = list(self.bucket_names)
        else:  # genre, mood: open-ended; the predictions, then what the user already uses
            base = [t[0] for t in item.get("top") or []] + self.task_labels.get(task, [])
        seen: list[str] = []
        for label in [*base, *self.created.get(task, [])]:
            if label not in seen:
                seen.append(label)
        return seen[:9]


    @work(exclusive=True, group="review-similar")
    async def load_similar(self, item_id: int, task: str) -> None:
        found: list[dict[str, Any]] = []
        try:
            answer = await self.app.request("recommend", ref=item_id, options={"n": 10})
            for rec in answer["items"]:
                info = self.details.get(rec["id"]) or await self.app.request("show", ref=rec["id"])
                self.details.setdefault(rec["id"], info)
                label = next((lb["label"] for lb in reversed(info.get("labels", []))
                              if lb["task"] == task and not lb.get("undone_at")), None)
                if label:
                    found.append({**info, "label": label, "score": rec.get("score", 0.0)})
                if len(found) == 3:
                    break
        except (DaemonUnavailable, RemoteError):
            pass  # recommend not available, or nothing similar yet: the panel just omits it
        self.similar[item_id] = found
        if found and self.current and self.current["item_id"] == item_id:
            self._render_detail()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_accept()  # Enter on the list

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._render_detail()

    # -- actions -------------------------------------------------------------------------------

    def action_move(self, step: int) -> None:
        opts = self.query_one("#queue", OptionList)
        if step > 0:
            opts.action_cursor_down()
        else:
            opts.action_cursor_up()

    def action_choose(self, n: int) -> None:
        item = self.current
        if item is None or self._input_mode is not None:
            return
        labels = self.choices(item)
        if n <= len(labels):
            self.apply_label(labels[n - 1])
        else:
            self.notify(f"no label {n}: this task has {len(labels)} choices (e adds one)", severity="warning")

    def action_accept(self) -> None:
        item = self.current
        if item is None:
            return
        top = item.get("label") or (item.get("top") or [[None]])[0][0]
        if not top:
            self.notify("no prediction to accept: choose 1–9 or e", severity="warning")
            return
        self.apply_label(top)

    def apply_label(self, label: str) -> None:
        item = self.current
        if item is None:
            return
        index = self.queue.index(item)
        self.queue.remove(item)
        self.labelled.add((item["item_id"], item["task"]))
        self.done.append(Done(item, index, label))
        self.today += 1
        self._render_queue(index=self.query_one("#queue", OptionList).highlighted)
        self.send_label(self.done[-1])

    @work(group="review-write")
    async def send_label(self, done: Done) -> None:
        item = done.item
        self._in_flight += 1
        try:
            typed = done.label in self.created.get(item["task"], [])   # `e`: a new label is meant
            result = await self.app.request("label.set", item_id=item["item_id"], task=item["task"], label=done.label,
                                            **({"create": True} if typed else {}))
        except (DaemonUnavailable, RemoteError) as exc:
            self._rollback(done)
            self.notify(f"label not saved for #{item['item_id']}: {exc}", severity="error", timeout=10)
            return
        finally:
            self._in_flight -= 1
            self._write_answered()
        if isinstance(result, dict) and (result.get("training") or result.get("train_needed")):
            self.training.add(item["task"])
            self._render_header()

    def _rollback(self, done: Done) -> None:
        if done in self.done:
            self.done.remove(done)
        self.labelled.discard((done.item["item_id"], done.item["task"]))
        self.today = max(0, self.today - 1)
        self.queue.insert(min(done.index, len(self.queue)), done.item)
        self._render_queue(focus=done.item)

    def action_undo(self) -> None:
        if not self.done:
            self.notify("nothing to undo", severity="warning")
            return
        done = self.done.pop()
        self.labelled.discard((done.item["item_id"], done.item["task"]))
        self.today = max(0, self.today - 1)
        self.queue.insert(min(done.index, len(self.queue)), done.item)
        self._render_queue(focus=done.item)
        self.send_undo(done)

    @work(group="review-write")
    async def send_undo(self, done: Done) -> None:
        item = done.item
        self._in_flight -= 1
        try:
            await self.app.request("label.undo", item_id=item["item_id"], task=item["task"])
        except (DaemonUnavailable, RemoteError) as exc:
            self._in_flight += 1
            self._write_answered()
            if item in self.queue:
                self.queue.remove(item)
            self.labelled.add((item["item_id"], item["task"]))
            self.done.append(done)
            self.today += 1
            self._render_queue()
            self.notify(f"undo failed for #{item['item_id']}: {exc}", severity="error", timeout=10)
            return
        self._in_flight += 1
        self._write_answered()
        self.notify(f"undid “{done.label}” on #{item['item_id']}")

    def _write_answered(self) -> None:
        """Re-count once a label write is answered, so the header never keeps a count that
        was read while the write was on its way (it would miss it, or hold it twice)."""
        self._writes_done += 1
        self._schedule_reload()

    def action_skip(self) -> None:
        item = self.current
        if item is None:
            return
        key = (item["item_id"], item["task"])
        if key in self.skipped:
            self.skipped.remove(key)
        self.skipped.append(key)
        index = self.query_one("#queue", OptionList).highlighted
        self.queue.remove(item)
        self.queue.append(item)
        self._render_queue(index=index)

    def action_new_label(self) -> None:
        if self.current is not None:
            self._open_input("label", f"new label for #{self.current['item_id']} ({self.current['task']})")

    def action_filter(self) -> None:
        self._open_input("filter", "filter the queue (name, path, label, task); empty clears", self.filter_text)

    def _open_input(self, mode: str, placeholder: str, value: str = "") -> None:
        field = self.query_one("#review-input", Input)
        self._input_mode = mode
        field.placeholder = placeholder
        field.value = value
        field.remove_class("hidden")
        field.focus()

    def action_close_input(self) -> None:
        field = self.query_one("#review-input", Input)
        field.add_class("hidden")
        self._input_mode = None
        self.query_one("#queue", OptionList).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        mode, value = self._input_mode, event.value.strip()
        self.action_close_input()
        if mode == "filter":
            self.filter_text = value
            self._render_queue()
        elif mode == "label" and value:
            item = self.current
            if item is not None:
                self.created.setdefault(item["task"], []).append(value)
                self.apply_label(value)

    def action_preview(self) -> None:
        item = self.current
        if item is not None:
            self.app.preview(self.details.get(item["item_id"], {}).get("path"))

    def action_recommend(self) -> None:
        item = self.current
        if item is not None:
            self.app.open_recommendations(self.details.get(item["item_id"]) or {"id": item["item_id"]})

    def action_train(self) -> None:
        item = self.current
        task = item["task"] if item else self.review_task
        if task:
            self.training.add(task)
            self._render_header()
            self.train(task)

    @work(group="review-train")
    async def train(self, task: str) -> None:
        try:
            result = await self.app.request("train", task=task)
        except (DaemonUnavailable, RemoteError) as exc:
            self.training.discard(task)
            self._render_header()
            code = getattr(exc, "code", "")
            hint = " (the models service is not installed)" if code in (METHOD_NOT_AVAILABLE, METHOD_NOT_FOUND) else ""
            self.notify(f"training {task} failed: {exc}{hint}", severity="error", timeout=10)
            return
        self.training.discard(task)
        self._render_header()
        if isinstance(result, dict) and result.get("status") == "not_enough_labels":
            self.notify(f"{task}: not enough labels yet ({result.get('labels')}; needs {result.get('needed')})",
                        severity="warning")

    def action_reload(self) -> None:
        self.reload()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen("Review", screen_keys(self.BINDINGS)))
