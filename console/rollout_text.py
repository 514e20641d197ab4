"""The Rollout panel's text (console/panels/rollout.py draws it): the ladder, each rule with its
evidence, state word and counters, comparisons, decisions and keys, laid out for a width. Plain
lines, no Textual, so `opsconsole rollout status` writes a rule exactly as the panel does without
paying for the UI's imports (its whole answer is ~80 ms)."""

from __future__ import annotations

import math
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass

from console.lines import MUTED, SPARK_STYLE, Line, Span, line
from console.render import age, fit, format_value, sparkline
from console.rollback_window import clock, closed_sentence, is_open
from engine.snapshot import ComparisonView, RolloutStatus, RolloutView, RuleView, Snapshot, Verdict, split_series
from engine.units import format_duration
from engine.verbs import VERB_SPECS, Verb, VerbSpec

S = RolloutStatus
STATUS_STYLES: dict[RolloutStatus, str] = {
    S.RUNNING: "$success", S.PROMOTED: "$success", S.PROMOTING: "$accent",
    S.PAUSED: "$warning", S.WAITING: "$warning", S.FROZEN: "$warning",
    S.ROLLING_BACK: "$error", S.ROLLED_BACK: "$error", S.ABORTED: "$error", S.IDLE: MUTED,
}
# state -> (the word shown, its colour): the word carries the meaning, the colour repeats it.
V = Verdict
VERDICT_WORDS: dict[Verdict, tuple[str, str]] = {  # rule states and comparison verdicts alike
    V.PASS: ("PASS", "$success"), V.BREACH: ("BREACH", "$error"), V.HIGH: ("HIGH", ""), V.LOW: ("LOW", ""),
    V.INCONCLUSIVE: ("INCONCLUSIVE", "$warning"), V.NO_DATA: ("NO DATA", "$warning"),
    V.ERROR: ("CANNOT MEASURE", "$warning"),
}
# Shorter causes for narrow panels: the numbers stay, the words go.
SHORTER = ((" requests", " req"), (" samples", ""), ("stale: last sample ", "stale: "),
           ("not significant at", "not signif. at"), (" each", ""))
GUARDED_STATUSES = (S.PAUSED, S.WAITING)
SPARK_POINTS = 12  # per side: two short sparklines say "canary vs baseline" without costing the wire
DECISION_LINES = 3
DOWN_CAUSE_LINES = 2
INDENT = "  "  # continuation lines of one rule
GAP = "  "  # between the parts of one rule on a line


def verb_keys() -> dict[str, tuple[str, str]]:
    """verb -> (key, words) from the one verb table (engine/verbs.py), so the panel can never
    advertise a wrong key. " rollout" is dropped from the words: this is the Rollout panel, and it
    saves a row of keys. A user keymap that remaps a verb is not seen here (nor in the footer's hint)."""
    return {str(spec.verb): (spec.key, spec.label.removesuffix(" rollout")) for spec in VERB_SPECS}


@dataclass(frozen=True)
class Question:
    """What the one confirmation asks before a confirmed verb: the console's dialog, the CLI's prompt."""

    title: str
    text: str
    second: str | None = None  # a second, distinct question (promote to 100%: `f`, not another `y`)


def where(r: RolloutView) -> str:
    stage = f"stage {r.stage_index + 1}/{len(r.stages)}" if r.stage_index >= 0 else "not started"
    return f"{r.service} #{r.id} at {r.weight}% ({stage}, {r.status})"


def confirm_question(spec: VerbSpec, snapshot: Snapshot | None) -> Question | str:
    """The question before `spec` (a verb with confirm=True), or why the verb cannot run now."""
    r = snapshot.rollout if snapshot is not None else None
    now = snapshot.taken_at if snapshot is not None else time.time()
    if (spec.verb is Verb.ROLLBACK and r is not None and r.status == RolloutStatus.PROMOTED
            and not (Verb.ROLLBACK in r.verbs and is_open(r, now))):
        return closed_sentence(r)
    if r is None or spec.verb not in r.verbs:
        return f"nothing to {spec.words}: the rollout is {r.status if r else 'not configured'}"
    if spec.verb is Verb.ROLLBACK and r.status == RolloutStatus.PROMOTED and r.ended is not None and r.rollback_until:
        return Question("Roll back the promotion", f"Undo the promotion of {r.service} #{r.id} (100% since "
                        f"{clock(r.ended)}, rollback window open until {clock(r.rollback_until)}): all traffic back "
                        "to the stable version (0%)?")
    if spec.verb is Verb.ROLLBACK:
        return Question("Roll back", f"Roll back {where(r)}: all traffic back to the stable version (0%)?")
    if spec.verb is Verb.PROMOTE_FULL:
        skipped = [str(w) for i, (w, _) in enumerate(r.stages) if i > r.stage_index]
        skipping = f", skipping {' → '.join(skipped)}" if skipped else ""
        return Question("Promote to 100%", f"Promote {where(r)} straight to 100%{skipping}?",
                        second=f"All traffic goes to the canary of {r.service} at once, with no further analysis "
                        "stage. Sure?")
    return Question(spec.label.capitalize(), f"{spec.words.capitalize()} {where(r)}?")  # any other confirmed verb


# -- layout helpers ------------------------------------------------------------------------------

def length(row: Line) -> int:
    return sum(len(text) for text, _ in row)


def crop(row: Line, width: int) -> Line:
    """The line cut to `width` cells, with an ellipsis in the span where it was cut."""
    if length(row) <= width:
        return row
    spans: list[Span] = []
    room = width
    for text, style in row:
        if len(text) < room:
            spans.append((text, style))
            room -= len(text)
            continue
        spans.append((text[: max(0, room - 1)] + "…", style))  # more follows: always the ellipsis
        break
    return tuple(spans)


def pack(parts: Sequence[Line], width: int) -> list[Line]:
    """Parts side by side, two spaces apart; a part that does not fit starts an indented line."""
    rows: list[Line] = []
    current: Line = ()
    for part in parts:
        if not part:
            continue
        if not current:
            current = part
        elif length(current) + len(GAP) + length(part) <= width:
            current = current + ((GAP, ""),) + part
        else:
            rows.append(current)
            current = ((INDENT, ""),) + part
    rows.append(current)
    return [crop(row, width) for row in rows]


def shorter(text: str) -> str:
    for long, short in SHORTER:
        text = text.replace(long, short)
    return text


def first_fitting(variants: Sequence[str], width: int) -> str:
    """The first (longest, clearest) wording that fits, else the last one cropped."""
    return next((v for v in variants if len(v) <= width), fit(variants[-1], width))


def wrapped(text: str, width: int, most: int, indent: str = "") -> list[str]:
    """`text` in at most `most` lines of `width`, the last one cropped with an ellipsis."""
    parts = textwrap.wrap(text, max(1, width - len(indent))) or [""]
    if len(parts) > most:
        parts = parts[: most - 1] + [fit(" ".join(parts[most - 1:]), width - len(indent))]
    return [indent + part for part in parts]


# -- rules ---------------------------------------------------------------------------------------

def ladder(r: RolloutView) -> Line:
    """`5 → [10] → 50 → 100`, the current stage bracketed and bold."""
    spans: list[Span] = []
    for i, (weight, _hold) in enumerate(r.stages):
        if i:
            spans.append((" → ", MUTED))
        spans.append((f"[{weight}]", "bold") if i == r.stage_index else (str(weight), ""))
    return tuple(spans)


def breached(rule: RuleView) -> bool:
    if rule.state:
        return rule.state == V.BREACH
    return rule.value is not None and (rule.value < rule.limit if rule.op == "<" else rule.value > rule.limit)


def rule_word(rule: RuleView) -> tuple[str, str]:
    """The state as a word; before the first check there is none (unless the value is over)."""
    if rule.state in VERDICT_WORDS:
        return VERDICT_WORDS[Verdict(rule.state)]
    if rule.state:
        return rule.state.upper(), "$warning"
    return ("OVER LIMIT", "$error") if breached(rule) else ("", "")


def count_of(count: int, limit: int, what: str) -> str:
    """`2/3 consecutive`; past its limit (frozen, or counted on after the decision) the count
    stops at the limit and says the rest: `3/3 consecutive (12 in a row)`, never `12/3`."""
    if count <= limit:
        return f"{count}/{limit} {what}"
    return f"{limit}/{limit} {what} ({count} {'in a row' if what == 'consecutive' else 'in all'})"


def counter_parts(rule: RuleView) -> list[str]:
    """`2/3 consecutive`, `2/10 total`; a total with no limit only once there is one to count."""
    parts = [count_of(rule.consecutive, rule.consecutive_limit, "consecutive")]
    if rule.total_limit is not None:
        parts.append(count_of(rule.total, rule.total_limit, "total"))
    elif rule.total:
        parts.append(f"{rule.total} total")
    return parts


def counters(rule: RuleView) -> str:
    """`2/3 consecutive · 2/10 total`."""
    return " · ".join(counter_parts(rule))


def counter_lines(rule: RuleView, width: int) -> list[Line]:
    """The counters as parts for `pack`: one when it fits an indented line, else one per counter
    (`3/3 consecutive (12 in a row) ·` then `5/5 total (12 in all)`), never cut inside one."""
    if len(counters(rule)) <= width - len(INDENT):
        return [line(counters(rule))]
    parts = counter_parts(rule)
    return [line(part + (" ·" if i < len(parts) - 1 else "")) for i, part in enumerate(parts)]


def evidence(rule: RuleView, with_window: bool) -> str:
    """` (16/500 in 25s)`: bad of n requests judged, and over how long."""
    if rule.n is None:
        return ""
    counted = f"{rule.bad}/{rule.n}" if rule.bad is not None else f"n={rule.n}"
    window = f" in {format_duration(rule.window)}" if with_window and rule.window else ""
    return f" ({counted}{window})"


def head_parts(rule: RuleView, width: int) -> list[Line]:
    """`error_rate 3.2% (16/500 in 25s) / 1.0%`: the window goes first when it does not fit,
    then the limit moves to the next line; a min rule's limit reads `/ ≥75`."""
    metric = split_series(rule.canary)[1] if rule.canary else rule.metric
    value = (format_value(metric, rule.value, rule.unit), "$error" if breached(rule) else "")
    limit = ("/ ≥" if rule.op == "<" else "/ ") + format_value(metric, rule.limit, rule.unit)
    for with_window in (True, False):
        head = line(f"{rule.metric} ", value, f"{evidence(rule, with_window)} {limit}")
        if length(head) <= width:
            return [head]
    return [line(f"{rule.metric} ", value, evidence(rule, False)), line(limit)]


def state_part(word: str, style: str, why: str, width: int) -> Line:
    """`INCONCLUSIVE 12 requests, need 50`, shortened to `12 req, need 50` when narrow."""
    if not word:
        return ()
    if not why:
        return ((word, style),)
    room = width - len(INDENT) - len(word) - 1
    return ((word, style), (" " + (why if len(why) <= room else shorter(why)), ""))


def rule_lines(rule: RuleView, width: int, *, with_counters: bool = True) -> list[Line]:
    """One rule in one to three lines: value with evidence and limit, state word (with why),
    counters — each part kept whole."""
    if not rule.op:
        return up_lines(rule, width)
    word, style = rule_word(rule)
    parts = [*head_parts(rule, width), state_part(word, style, rule.why, width)]
    return pack(parts + (counter_lines(rule, width) if with_counters else []), width)


def up_lines(rule: RuleView, width: int, cause_lines: int = DOWN_CAUSE_LINES) -> list[Line]:
    """`canary up  OK  0/3 consecutive`, or `canary DOWN  2/3 consecutive` and the cause."""
    if rule.state != V.BREACH:
        word, style = ("OK", "$success") if rule.state == V.PASS else rule_word(rule)
        return pack([line(rule.metric), state_part(word or "not checked yet", style or MUTED, rule.why, width),
                     line(counters(rule))], width)
    down = line("canary ", ("DOWN", "$error"))
    whole = down + line(f": {rule.why}" if rule.why else "", GAP + counters(rule))
    if length(whole) <= width:
        return [whole]
    rows = [crop(down + line(GAP + counters(rule)), width)]
    if rule.why:
        rows += [line(part) for part in wrapped(rule.why, width, cause_lines, INDENT)]
    return rows


def spark_spans(rule: RuleView, snapshot: Snapshot | None) -> Line:
    """Canary and baseline on one scale, one style span each: `  c ▁▂▅▇ b ▁▁▂▁`."""
    if snapshot is None or not rule.canary:
        return ()
    canary = snapshot.get(*split_series(rule.canary))
    baseline = snapshot.get(*split_series(rule.baseline)) if rule.baseline else None
    c_values = canary.values[-SPARK_POINTS:] if canary is not None else ()
    b_values = baseline.values[-SPARK_POINTS:] if baseline is not None else ()
    if not c_values and not b_values:
        return ()
    both = (*c_values, *b_values)
    lo, hi = min(0.0, min(both)), max(max(both), rule.limit if rule.op == ">" else 0.0)
    spans: list[Span] = [("  c ", MUTED), (sparkline(c_values, SPARK_POINTS, lo, hi) or "—", SPARK_STYLE)]
    if rule.baseline:
        spans += [(" b ", MUTED), (sparkline(b_values, SPARK_POINTS, lo, hi) or "—", MUTED)]
    return tuple(spans)


def extra_line(rule: RuleView, spark: Line, width: int) -> Line:
    """The optional row under a rule: its sparklines (they start indented), and how it was
    judged when that fits too."""
    test: Line = ((INDENT + rule.test, MUTED),) if rule.test else ()
    if spark and test and length(spark) + length(test) <= width:
        return spark + test
    return spark or test


# -- comparisons ---------------------------------------------------------------------------------

def comparison_lines(c: ComparisonView, width: int) -> list[Line]:
    """`compare error_rate PASS  Fisher p=0.61` / `  canary 0.4% (2/500) vs 0.5% (5/1000)`."""
    metric = split_series(c.canary)[1] if c.canary else c.metric
    word, style = VERDICT_WORDS.get(c.verdict, (c.verdict.upper(), "$warning"))
    if c.verdict in (V.HIGH, V.LOW) and not c.failed:  # the configured direction allows it
        word = f"{'higher' if c.verdict == 'high' else 'lower'} (allowed)"
    if c.failed:
        style = "$error"
    head = line(("compare ", MUTED), f"{c.metric} ", (word, style), " (critical)" if c.critical and c.failed else "")
    if c.verdict in (V.INCONCLUSIVE, V.NO_DATA, V.ERROR) or c.canary_mean is None or c.baseline_mean is None:
        why = c.why or ("" if c.verdict == V.ERROR else "not enough samples")
        why_part = line(why if len(why) <= width - len(INDENT) else shorter(why)) if why else ()
        return pack([head, why_part], width)
    test = " ".join(part for part in (c.test, f"p={c.p_value:.2g}" if c.p_value is not None else "") if part)
    canary = format_value(metric, c.canary_mean, c.unit) + (f" ({c.canary_n})" if c.canary_n else "")
    baseline = format_value(metric, c.baseline_mean, c.unit) + (f" ({c.baseline_n})" if c.baseline_n else "")
    values = first_fitting([f"canary {canary} vs {baseline}", f"{canary} vs {baseline}"], width - len(INDENT))
    return pack([head, line(test), line(values)], width)


# -- the rollout as a whole ----------------------------------------------------------------------

def guard_line(r: RolloutView, width: int) -> Line:
    """Whether a breach still rolls back by itself: the question of a paused or frozen rollout."""
    if not r.guarded:
        text = first_fitting([f"{r.status} at {r.weight}% · NOT guarded (automatic rollback off)",
                              "NOT guarded (automatic rollback off)", "NOT guarded (no auto-rollback)"], width)
        return ((text, "$error"),)
    if r.status in GUARDED_STATUSES:
        status = "paused" if r.status == S.PAUSED else "waiting"
        return line(first_fitting([f"{status} at {r.weight}% · still guarded (automatic rollback on)",
                                   "still guarded (automatic rollback on)", "still guarded (auto-rollback on)"], width))
    return ()


def inconclusive_line(r: RolloutView) -> Line:
    """The longest run of checks without a conclusion, against the run that pauses for a human."""
    if not r.inconclusive or not r.inconclusive_limit:
        return ()
    return ((f"inconclusive {r.inconclusive}/{r.inconclusive_limit} checks in a row", "$warning"),)


def decision_lines(decision: str, width: int, most: int = DECISION_LINES) -> list[Line]:
    if not decision:
        return []
    parts = wrapped("last: " + decision, width, most)
    return [line(("last: ", MUTED), parts[0][6:])] + [line(part) for part in parts[1:]]


def keys_lines(r: RolloutView, read_only: bool, width: int) -> list[Line]:
    """`keys: P promote · R roll back`, wrapped between keys (never in the middle of one)."""
    if read_only:
        return [line(("keys: read-only — rollout verbs are disabled", "$warning"))]
    known = verb_keys()
    keys = [f"{known[v][0]} {known[v][1]}" for v in r.verbs if v in known] or ["none now"]
    rows: list[Line] = []
    current = ""
    for i, key in enumerate(keys):
        candidate = f"{current} · {key}" if current else key
        trailing = len(" ·") if i < len(keys) - 1 else 0  # a row that more keys follow ends in " ·"
        if current and len("keys: ") + len(candidate) + trailing > width:
            rows.append(line(("keys: " if not rows else "      ", MUTED), current + " ·"))
            candidate = key
        current = candidate
    rows.append(line(("keys: " if not rows else "      ", MUTED), fit(current, width - 6)))
    return rows


def finished_timing(r: RolloutView, now: float, read_only: bool) -> tuple[str, ...]:
    """The timing line of a finished rollout, longest wording first: time in stage stops at the
    end, and a promotion says until when R still undoes it (canary.rollback_window)."""
    if r.ended is None:
        return ()
    since = age(now - r.ended)
    if r.status != S.PROMOTED:
        word = "rolled back" if r.status == S.ROLLED_BACK else r.status
        spent = r.ended - r.stage_started if r.stage_started is not None else -1.0
        return (f"{word} {since} ago after {age(spent)} in stage", f"{word} {since} ago") if spent >= 0 else (
            f"{word} {since} ago",)
    until = r.rollback_until
    if until is None:
        return (f"promoted {since} ago · final (no rollback window)", f"promoted {since} ago · final")
    if not is_open(r, now):
        return (f"promoted {since} ago · rollback window closed at {clock(until)}",
                f"promoted {since} ago · rollback window closed {clock(until, False)}",
                f"promoted {since} ago · rollback closed {clock(until, False)}",
                f"{since} ago · rollback closed {clock(until, False)}")
    verb = "rollback possible" if read_only else "R rolls back"
    short = "rollback" if read_only else "R undoes"
    return (f"promoted {since} ago · {verb} until {clock(until)}", f"promoted {since} ago · {verb} until {clock(until, False)}",
            f"promoted {since} ago · {short} until {clock(until, False)}", f"{since} ago · {short} until {clock(until, False)}")


def countdown(seconds_left: float) -> str:
    """A time left in age()'s coarse steps, rounded up rather than down: a 1m hold just begun
    reads "1m" (not "50s"), and "0s" only when it is due."""
    left = max(0.0, seconds_left)
    step = 1 if left <= 10 else 10 if left <= 60 else 60 if left <= 3600 else 3600 if left <= 86400 else 86400
    return age(math.ceil(left / step) * step)


@dataclass(frozen=True)
class Block:
    """Lines that depend on the RolloutView only, in versions from the shortest to the fullest:
    spare rows go to the fullest version that fits, lowest `priority` first. `rule` draws its
    sparklines beside or under the lines."""

    variants: tuple[tuple[Line, ...], ...]
    priority: int = 0
    rule: RuleView | None = None


# Who gets spare rows first: the cause of a down canary, then the decision's explanation, then
# counters that are still 0 (nothing counted yet), then (not a Block) sparklines.
DOWN_CAUSE, DECISION, ZERO_COUNTERS = 0, 1, 2


def block(*variants: Sequence[Line], priority: int = 0, rule: RuleView | None = None) -> Block:
    """Distinct non-empty versions, shortest first."""
    kept: list[tuple[Line, ...]] = []
    for lines in sorted((tuple(row for row in v if row) for v in variants), key=len):
        if not kept or len(lines) > len(kept[-1]):
            kept.append(lines)
        elif len(lines) == len(kept[-1]):
            kept[-1] = lines  # same rows: the later (fuller) wording wins
    return Block(tuple(kept) or ((),), priority, rule)


def rule_block(rule: RuleView, width: int) -> Block:
    if not rule.op:
        return block(*(up_lines(rule, width, cause) for cause in range(1, DOWN_CAUSE_LINES + 1)),
                     priority=DOWN_CAUSE, rule=rule)
    full = rule_lines(rule, width)
    if rule.consecutive or rule.total:
        return block(full, rule=rule)
    return block(rule_lines(rule, width, with_counters=False), full, priority=ZERO_COUNTERS, rule=rule)


@dataclass(frozen=True)
class Layout:
    """The panel minus the timing line and the sparklines, which change without the RolloutView."""

    title: tuple[Line, ...]  # title, ladder (the timing line goes after them)
    blocks: tuple[Block, ...]  # guard, alert, rules, comparisons, counters, decision, keys


def layout(r: RolloutView, width: int, read_only: bool) -> Layout:
    title = f"{r.service} #{r.id}" if r.id is not None else r.service
    weight = f" weight {r.weight}%" + (f" → {r.target_weight}%" if r.target_weight != r.weight else "")
    head = fit(title, max(4, width - len(r.status) - len(weight) - 1))
    blocks = [block((guard_line(r, width),))]
    if r.alert:
        blocks.append(block(tuple(((part, "$error"),) for part in wrapped(r.alert, width, DECISION_LINES))))
    blocks += [rule_block(rule, width) for rule in r.rules]
    blocks += [block(comparison_lines(c, width)) for c in r.comparisons]
    blocks.append(block((inconclusive_line(r),)))
    if r.measure_errors:
        blocks.append(block((line((fit(f"cannot measure: {r.measure_errors}/{r.measure_error_limit} checks in a row",
                                       width), "$warning")),),))
    blocks.append(block(*(decision_lines(r.last_decision, width, most) for most in range(1, DECISION_LINES + 1)),
                        priority=DECISION))
    blocks.append(block(keys_lines(r, read_only, width)))
    return Layout(
        title=(line(f"{head} ", (r.status.upper(), STATUS_STYLES.get(r.status, "")), weight), ladder(r)),
        blocks=tuple(blocks),
    )


def choose(blocks: Sequence[Block], spare: int) -> tuple[list[tuple[Line, ...]], int]:
    """Each block's shortest version, then fuller ones by priority while rows are spare."""
    chosen = [0] * len(blocks)
    spare -= sum(len(b.variants[0]) for b in blocks)
    for i in sorted(range(len(blocks)), key=lambda i: (blocks[i].priority, i)):
        variants = blocks[i].variants
        for k in range(len(variants) - 1, 0, -1):
            extra = len(variants[k]) - len(variants[0])
            if extra <= spare:
                chosen[i], spare = k, spare - extra
                break
    return [b.variants[k] for b, k in zip(blocks, chosen, strict=True)], spare
