"""The side-by-side thread timeline: one column per thread, one row per step.

Owns reading the explore engine's structured timeline (`detail["timeline"]`: a list of
{"step", "thread", "line", "code", "op", "switch"}) for the moment that broke the run —
`pick_highlight` — and drawing it as a rich table whose cells are the submission's own
lines with what each step read, wrote or blocked on underneath. Pure: no I/O beyond the
Console it is given, and every string from a submission rendered as plain Text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

Event = dict[str, Any]

#: Steps shown before the table is cut down to the part around the highlight.
MAX_ROWS = 40
#: Steps kept before the highlighted switch when the table is cut.
CONTEXT_BEFORE = 24

_READ = re.compile(r"^read (?P<name>.+?) → (?P<value>.*)$")
_WRITE = re.compile(r"^write (?P<name>.+?) ← (?P<value>.*)$")
_HIGHLIGHT = "bold reverse"
#: Longest run of one thread's steps highlighted in full (longer: just its two ends).
_MAX_RUN = 6


@dataclass(frozen=True)
class Highlight:
    """The steps to mark and the sentence that says why.

    `steps` are step numbers in order: the switch into the thread that did the damage
    through the step that did it, or, for a deadlock, each stuck thread's last step;
    `caption` explains them in the student's terms.
    """

    steps: tuple[int, ...]
    caption: str

    @property
    def first(self) -> int | None:
        return self.steps[0] if self.steps else None


def access(event: Event) -> tuple[str, str, str] | None:
    """("read"|"write", name, value) of a step that touched a shared value, else None."""
    op = event.get("op") or ""
    for kind, pattern in (("read", _READ), ("write", _WRITE)):
        m = pattern.match(op)
        if m:
            return kind, m["name"], m["value"]
    return None


def threads(timeline: Sequence[Event]) -> list[str]:
    """Thread names in order of first appearance, the main thread first."""
    names = list(dict.fromkeys(str(ev.get("thread", "?")) for ev in timeline))
    if "MainThread" in names:
        names.remove("MainThread")
        names.insert(0, "MainThread")
    return names


def _lost_update(timeline: Sequence[Event]) -> Highlight | None:
    """The last write built on a stale read: T read X, another thread wrote X, T wrote X."""
    last_read: dict[tuple[str, str], Event] = {}     # (thread, name) -> T's latest read of it
    last_write: dict[str, Event] = {}                # name -> latest write by anyone
    found: tuple[Event, Event, Event] | None = None
    for ev in timeline:
        acc = access(ev)
        if acc is None:
            continue
        kind, name, _ = acc
        me = ev["thread"]
        if kind == "read":
            last_read[(me, name)] = ev
            continue
        read = last_read.get((me, name))
        other = last_write.get(name)
        if read is not None and other is not None and other["thread"] != me and other["step"] > read["step"]:
            found = (read, other, ev)
        last_write[name] = ev
    if found is None:
        return None
    read, other, write = found
    name = access(write)[1]
    caption = (f"{write['thread']} read {name} → {access(read)[2]} at step {read['step']}; "
               f"{other['thread']} then wrote {name} ← {access(other)[2]} at step {other['step']}; "
               f"at step {write['step']} {write['thread']} wrote {name} ← {access(write)[2]}, "
               f"computed from its stale read: {other['thread']}'s update is lost.")
    return Highlight(_run_into(timeline, write["step"]), caption)


def _run_into(timeline: Sequence[Event], step: int) -> tuple[int, ...]:
    """The switch into the thread that ran `step`, through `step`.

    Steps of that thread in between are included when there are a few; a long run keeps
    just its two ends, and with no switch at all only `step` itself is marked.
    """
    by_step = {ev["step"]: ev for ev in timeline}
    me = by_step[step]["thread"]
    start = step
    while not by_step[start].get("switch"):
        before = by_step.get(start - 1)
        if before is None or before["thread"] != me:
            return (step,)
        start -= 1
    if step - start > _MAX_RUN:
        return (start, step)
    return tuple(range(start, step + 1))


def _blocked_tail(timeline: Sequence[Event]) -> Highlight | None:
    """Threads whose last step is blocking (a deadlock's last moves): their final steps."""
    final: dict[str, Event] = {}
    for ev in timeline:
        final[ev["thread"]] = ev
    stuck = [ev for ev in final.values() if str(ev.get("op") or "").startswith("blocks:")]
    # A join only waits for the others; the threads blocked on each other tell the story.
    own = [ev for ev in stuck if "(join)" not in ev["op"]]
    stuck = sorted(own if len(own) >= 2 else stuck, key=lambda ev: ev["step"])
    if len(stuck) < 2:
        return None
    waits = "; ".join(f"{ev['thread']} (step {ev['step']}) waits for {ev['op'].removeprefix('blocks: ')}"
                      for ev in stuck)
    return Highlight(tuple(ev["step"] for ev in stuck),
                     f"By the end every one of these threads is blocked on something only another "
                     f"of them could release: {waits}.")


def _named(timeline: Sequence[Event], happened: str) -> list[Event]:
    """The steps of the one thread the failure message names ("consumer-1's get() raised")."""
    named = [name for name in threads(timeline)
             if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", happened)]
    if len(named) != 1:
        return []
    return [ev for ev in timeline if ev["thread"] == named[0]]


def pick_highlight(timeline: Sequence[Event], outcome: str | None = None, happened: str = "") -> Highlight:
    """The switch that broke the run, with a sentence saying what it did.

    In order: a write built on a stale read (a lost update: highlight the switch back
    into the writer and the write); threads blocked at the end (a deadlock; looked for
    first when `outcome` is DEADLOCK or HANG); otherwise the last switch before the last
    shared read or write — of the thread the `happened` message names, if it names
    exactly one, else of any thread — through that step; with no switch, that step.
    """
    if not timeline:
        return Highlight((), "")
    finders = (_lost_update, _blocked_tail)
    if outcome in ("DEADLOCK", "HANG"):
        finders = (_blocked_tail, _lost_update)
    for finder in finders:
        found = finder(timeline)
        if found is not None:
            return found
    pool = _named(timeline, happened) or list(timeline)
    touching = [ev for ev in pool if access(ev) is not None] or pool
    target = touching[-1]
    steps = _run_into(timeline, target["step"])
    by_step = {ev["step"]: ev for ev in timeline}
    first = by_step[steps[0]]
    if first.get("switch"):
        what = target["op"] or (f"line {target['line']}" if target.get("line") else "its next step")
        caption = f"At step {first['step']} the scheduler switched to {first['thread']}, which then did: {what}."
    else:
        caption = f"Step {target['step']}: {target['thread']} — {target['op'] or target.get('code') or ''}".rstrip(" —")
    return Highlight(steps, caption)


def runs(events: Sequence[Event]) -> list[list[Event]]:
    """Consecutive steps of one thread repeating the same line and op, grouped (a thread
    polling a value twelve times is one row, not twelve)."""
    groups: list[list[Event]] = []
    for ev in events:
        last = groups[-1][-1] if groups else None
        if (last is not None and not ev.get("switch") and ev["thread"] == last["thread"]
                and ev.get("line") == last.get("line") and ev.get("op") == last.get("op")):
            groups[-1].append(ev)
        else:
            groups.append([ev])
    return groups


def _cell(ev: Event, times: int = 1) -> Text:
    text = Text()
    if ev.get("line"):
        text.append(f"{ev['line']:>3} ", style="dim")
        text.append(str(ev.get("code") or ""))
    op = str(ev.get("op") or "")
    if op:
        if text:
            text.append("\n")
        style = "bold" if access(ev) is not None else ("red" if op.startswith("blocks:") else "cyan")
        text.append(op, style=style)
    if times > 1:
        text.append(f" ×{times}", style="dim")
    return text


def window(timeline: Sequence[Event], highlight: Highlight, max_rows: int = MAX_ROWS) -> tuple[list[Event], int]:
    """The steps to draw and how many earlier ones were left out (long runs keep the
    part leading up to the highlight and everything after it)."""
    events = list(timeline)
    if len(events) <= max_rows:
        return events, 0
    anchor = highlight.first if highlight.first is not None else events[-1]["step"]
    start_step = max(events[0]["step"], anchor - CONTEXT_BEFORE, events[-1]["step"] - max_rows + 1)
    start_step = min(start_step, anchor)
    kept = [ev for ev in events if ev["step"] >= start_step]
    return kept, len(events) - len(kept)


def render(timeline: Sequence[Event], highlight: Highlight | None = None, *,
           console: Console | None = None, max_rows: int = MAX_ROWS) -> RenderableType:
    """The timeline as a table: a step column (▶ on highlighted rows), then one column per
    thread; below it, the highlight's caption.

    Args:
        timeline: the engine's structured events.
        highlight: what to mark; `pick_highlight(timeline)` when None.
        console: used only to pick ASCII markers on an output that is not UTF-8.
        max_rows: longer timelines keep the steps around the highlight.
    """
    if highlight is None:
        highlight = pick_highlight(timeline)
    utf = console is None or console.encoding.lower().startswith("utf")
    mark = "▶" if utf else ">"
    names = threads(timeline)
    shown, skipped = window(timeline, highlight, max_rows)
    table = Table(box=box.MINIMAL, show_edge=False, pad_edge=False, expand=False)
    table.add_column("step", justify="right", no_wrap=True)
    for name in names:
        table.add_column(name, overflow="fold")
    marked = set(highlight.steps)
    for group in runs(shown):
        ev = group[0]
        hot = any(e["step"] in marked for e in group)
        label = str(ev["step"]) if len(group) == 1 else f"{ev['step']}-{group[-1]['step']}"
        step = Text(f"{mark} {label}" if hot else label, style=_HIGHLIGHT if hot else "dim")
        cells: list[RenderableType] = [step]
        for name in names:
            cells.append(_cell(ev, len(group)) if ev["thread"] == name else Text(""))
        table.add_row(*cells, style=_HIGHLIGHT if hot else None)
    parts: list[RenderableType] = []
    if skipped:
        parts.append(Text(f"… {skipped} earlier step{'s' if skipped != 1 else ''} not shown", style="dim"))
    parts.append(table)
    if highlight.caption:
        parts.append(Text.assemble((f"{mark} ", "bold"), highlight.caption))
    return Group(*parts)
