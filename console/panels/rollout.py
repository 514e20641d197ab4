"""Rollout: the stage ladder, weight and target, status, time in stage, next promotion, whether
automatic rollback is armed, each analysis rule with its evidence, its state as a word and both
counters, the "canary up" check, the comparisons with their test, n and p, the last decision with
its explanation, and the keys that work right now.

Every state is a word (PASS, BREACH, INCONCLUSIVE, NO DATA, DOWN, NOT guarded); colour only
repeats it. At 120x40 the panel is 38 columns by 17 rows, so each rule's parts wrap between
parts (never inside one), shorter wordings are used when the long ones do not fit, and the
canary-vs-baseline sparklines are extras: beside a rule when they fit on its last line, under it
only while the panel has rows to spare.

Everything but the timing line and the sparklines comes from the RolloutView alone, which the
engine replaces only when it changes, so those lines are built once per RolloutView and width.
The text itself is console/rollout_text.py (no Textual: `rollout status` shares it).
"""

from __future__ import annotations

from console.compact import TITLE_W, indented, labelled, titled
from console.lines import MUTED, Line, View, line, sentence
from console.panels.base import Panel, add_to_config
from console.render import age, format_value
from console.rollout_text import (
    STATUS_STYLES,
    Layout,
    choose,
    countdown,
    crop,
    extra_line,
    finished_timing,
    first_fitting,
    layout,
    length,
    rule_word,
    spark_spans,
)
from engine.snapshot import RolloutStatus as S
from engine.snapshot import RolloutView, RuleView, Snapshot, Verdict

BRIEFER = (("in stage ", "stage "), (" of hold left", " hold left"), ("next promotion in ", "next in "),
           ("paused: ", ""), ("frozen: ", ""))


def briefer(timing: str) -> str:
    """The timing line for the compact layout's summary, which already says the status."""
    for long, short in BRIEFER:
        timing = timing.replace(long, short)
    return timing


class RolloutPanel(Panel):
    TITLE = "Rollout"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._layout_key: tuple[RolloutView, int, bool] | None = None
        self._layout: Layout | None = None

    def view(self, snapshot: Snapshot, width: int) -> View:
        r = snapshot.rollout
        if r is None:
            return sentence(f"no rollout configured — {add_to_config('canary:', snapshot.config_name)}", width)
        shape = self._cached_layout(r, width, snapshot.read_only)
        timing = finished_timing(r, snapshot.taken_at, snapshot.read_only) or self._timing(r, snapshot.taken_at)
        rows: list[Line] = [*shape.title, line(first_fitting(timing, width))]
        chosen, spare = choose(shape.blocks, self._rows_available() - len(rows))
        for b, lines in zip(shape.blocks, chosen, strict=True):
            rows += lines
            if b.rule is None or not lines:
                continue
            spark = spark_spans(b.rule, snapshot)
            if spark and length(rows[-1]) + length(spark) <= width:
                rows[-1] = rows[-1] + spark  # beside the rule: costs no row
            elif spare > 0 and (extra := extra_line(b.rule, spark, width)):
                rows.append(crop(extra, width))
                spare -= 1
        return tuple(rows)

    def summary(self, snapshot: Snapshot, width: int) -> View:
        """Two lines: `demo #1 PAUSED 10% → 25% (1/4) · in stage 9s · paused: 40s of hold left`,
        then what must be read now (an alert), or each rule's state word, or the last decision."""
        r = snapshot.rollout
        if r is None:
            return (titled(self.TITLE, [line(("no rollout configured", MUTED))], width),)
        name = f"{r.service} #{r.id}" if r.id is not None else r.service
        weight = f"{r.weight}%" + (f" → {r.target_weight}%" if r.target_weight != r.weight else "")
        head = line(f"{name} ", labelled((r.status.upper(), STATUS_STYLES.get(r.status, ""))),
                    f" {weight} ({r.stage_index + 1}/{len(r.stages)})")
        timing = finished_timing(r, snapshot.taken_at, snapshot.read_only) or self._timing(r, snapshot.taken_at)
        timing += tuple(briefer(t) for t in timing)
        first = titled(self.TITLE, [head, line(first_fitting(timing, max(10, width - length(head) - TITLE_W - 3)))],
                       width)
        if r.alert:
            second = line((r.alert, "$error"))
        elif r.ended is not None and r.status != S.PROMOTED and r.last_decision:
            second = line(r.last_decision)
        else:
            second = sum((self._rule_state(rule) for rule in r.rules), ())
        return (first, indented([second], width))

    @staticmethod
    def _rule_state(rule: RuleView) -> Line:
        """`error_rate 0.4% PASS  `; the "canary up" check (no op) reads OK or DOWN."""
        word, style = rule_word(rule)
        if not rule.op:
            word, style = {Verdict.PASS: ("OK", "$success"), Verdict.BREACH: ("DOWN", "$error")}.get(
                rule.state, (word or "not checked yet", style or MUTED))
        value = format_value(rule.metric, rule.value, rule.unit) if rule.op and rule.value is not None else ""
        return line(f"{rule.metric} {value} ".replace("  ", " "), labelled((word or "—", style)), "  ")

    def _cached_layout(self, r: RolloutView, width: int, read_only: bool) -> Layout:
        key = (r, width, read_only)
        if self._layout is None or key != self._layout_key:  # tuple ==: identity first, then fields
            self._layout_key, self._layout = key, layout(r, width, read_only)
        return self._layout

    def _rows_available(self) -> int:
        """The rows the panel shows without scrolling (unknown before layout: all of them)."""
        height = self.scrollable_content_region.height
        return height if height > 0 else 1_000

    @staticmethod
    def _held_by(r: RolloutView) -> tuple[str, ...]:
        """Past its hold a stage promotes only on a clean check: what it waits for, longest first."""
        waiting = [rule.metric for rule in r.rules if rule.state not in (Verdict.PASS, "")]
        waiting += [c.metric for c in r.comparisons if c.failed]
        if not waiting:
            return ("hold done · promotes at the next clean check", "hold done · next clean check")
        named = ", ".join(waiting[:2]) + (f" +{len(waiting) - 2}" if len(waiting) > 2 else "")
        return (f"hold done · waiting for {named} to pass", f"waiting for {named}", f"held by {named}")

    @staticmethod
    def _timing(r: RolloutView, now: float) -> tuple[str, ...]:
        """The time line's wordings, longest first: the panel shows the first that fits."""
        in_stage = f"in stage {age(now - r.stage_started)}" if r.stage_started is not None else "in stage —"
        if r.next_promotion_at is not None:
            if r.next_promotion_at > now:
                return (f"{in_stage} · next promotion in {countdown(r.next_promotion_at - now)}",)
            # Past the hold: not "in 0s" for as long as a rule fails.
            return tuple(f"{in_stage} · {words}" for words in RolloutPanel._held_by(r))
        if r.status in (S.PAUSED, S.FROZEN):
            left = f"{age(r.hold_left)} of hold left" if r.hold_left is not None else "waits for a promote"
            return (f"{in_stage} · {r.status}: {left}",)
        if r.status == S.WAITING:
            return (f"{in_stage} · waiting for an operator to promote",)
        hold = r.stages[r.stage_index][1] if 0 <= r.stage_index < len(r.stages) else ""
        if r.status == S.RUNNING:
            return (f"{in_stage} · next promotion: {hold or 'after the next clean check'}",)
        return (in_stage if r.stage_started is not None and r.status != S.IDLE else f"status {r.status}",)
