"""What `djml analyze` prints for a terminal: shared by the click command and the
daemon-served one-shot (:mod:`djml.oneshot`), so it imports rich but never click."""

from __future__ import annotations

from pathlib import Path


def print_table(rows: list[dict]) -> None:
    """One block per file: the name with kind, length and loudness, then the findings on an
    indented line wrapped at word boundaries, so 80 columns read as well as 200 (a
    nine-column table shredded every cell at 80). A failure is one line with the full path."""
    import textwrap

    from rich.text import Text

    from djml.render import console, fmt_bpm, fmt_duration, fmt_loudness
    from djml.safetext import display

    out = console()
    for r in rows:
        if "error" in r:
            line = Text("error ", style="red")
            line.append(f"{display(r['path'])}: {display(r['error'])}")
            out.print(line, soft_wrap=True)
            continue
        head = Text(display(Path(r["path"]).name), style="bold")
        head.append(f"  {r['kind']} · {fmt_duration(r.get('duration'))}", style="dim")
        if (level := fmt_loudness(r)) is not None:
            head.append(f" · {level}", style="dim")
        out.print(head, soft_wrap=True)
        facts = []
        if r.get("bpm") is not None:
            candidates = ", ".join(f"{c:.0f}" for c in (r.get("bpm_candidates") or [])[:3])
            detail = "; ".join(x for x in (f"confidence {r['bpm_confidence']:.2f}" if r.get("bpm_confidence")
                                           is not None else "", f"candidates {candidates}" if candidates else "") if x)
            facts.append(f"BPM {fmt_bpm(r['bpm'], r.get('bpm_ambiguous'))}" + (f" ({detail})" if detail else ""))
        if r.get("key"):
            facts.append(f"key {r['key']} · {r['camelot']} · {r.get('open_key') or ''} · ID3 {r.get('key_id3') or ''}"
                         + (f" ({r['key_confidence']:.2f})" if r.get("key_confidence") is not None else ""))
        if r.get("energy") is not None:
            facts.append(f"energy {r['energy']:.1f}")
        if r["kind"] == "sample":
            facts.append(" · ".join(str(x) for x in (r.get("sample_type"), r.get("note"),
                                                     f"loop at {r['loop_bpm']:.1f} BPM" if r.get("loop_bpm") else None,
                                                     f"attack {r['attack']:.3f} s" if r.get("attack") is not None else None,
                                                     f"decay {r['decay']:.2f} s" if r.get("decay") is not None else None)
                                if x))
        text = "   ".join(f for f in facts if f) or "no tempo or key found"
        out.print(textwrap.fill(text, width=max(40, out.width), initial_indent="  ", subsequent_indent="  "),
                  markup=False, soft_wrap=True)
