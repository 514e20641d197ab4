"""The Rollout panel reads out counted evidence (issue 15) at 120x40, the way an operator sees it:
each rule's value with its n and window, its state as a word (PASS / BREACH / INCONCLUSIVE with
why / NO DATA with why), the "canary up" check, comparisons with test, n and p, and whether a
paused or frozen rollout is still guarded. Text is read off the terminal, not the view model."""

from __future__ import annotations

from dataclasses import replace

from console.app import OpsConsoleApp
from engine.snapshot import ComparisonView, RolloutView, RuleView
from tests.console.console_fakes import T0, FakeSource, series, snap

SIZE = (120, 40)
KEYS = ("promote", "promote_full", "pause", "freeze", "rollback")


def rule(name: str = "error_rate", **kw: object) -> RuleView:
    base: dict[str, object] = dict(metric=name, value=0.004, limit=0.01, consecutive=0, consecutive_limit=3,
                                   total=0, total_limit=10, state="pass", canary=f"log:canary/{name}")
    base.update(kw)
    return RuleView(**base)  # type: ignore[arg-type]


UP = RuleView("canary up", None, 0.0, 0, 3, 0, None, op="", state="pass")


def rollout(**kw: object) -> RolloutView:
    base: dict[str, object] = dict(
        id=4, service="demo", status="running", stage_index=1, stages=((10, "40s"), (25, "40s"), (50, "40s"), (100, "")),
        weight=25, target_weight=25, stage_started=T0 + 40, next_promotion_at=T0 + 160, rules=(rule(), UP),
        last_decision="promoted to 25% by engine: 3 clean checks at 10%", verbs=KEYS)
    base.update(kw)
    return RolloutView(**base)  # type: ignore[arg-type]


def screen_rows(app: OpsConsoleApp) -> list[str]:
    """The Rollout panel's rows as the terminal shows them: inside its border, right-trimmed."""
    panel = app.query_one("#rollout")
    region = panel.content_region
    strips = app.screen._compositor.render_strips()
    return [strips[y].text[region.x:region.right].rstrip() for y in range(region.y, region.bottom)]


async def shown(r: RolloutView, size: tuple[int, int] = SIZE, **snap_kw: object) -> list[str]:
    """The panel's rows on screen; at 120x40 all of them fit (narrower layouts scroll by design)."""
    app = OpsConsoleApp(FakeSource(snap(rollout=r, **snap_kw)), refresh=60.0)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.pause(0.05)  # a scrollbar that appeared has been laid out again
        panel = app.query_one("#rollout")
        if size == SIZE:
            assert not panel.show_vertical_scrollbar, f"the panel overflows: {panel.body.plain}"  # type: ignore[attr-defined]
        return screen_rows(app)


def flat(rows: list[str]) -> str:
    return " ".join(" ".join(rows).split())


async def test_an_inconclusive_rule_reads_its_n_and_what_it_needs() -> None:
    r = rollout(rules=(rule(value=0.0, n=12, bad=0, window=25.0, state="inconclusive", why="12 requests, need 50"), UP),
                inconclusive=3, inconclusive_limit=12)
    rows = await shown(r)
    assert "error_rate 0.0% (0/12 in 25s) / 1.0%" in rows
    assert "  INCONCLUSIVE 12 requests, need 50" in rows
    assert "inconclusive 3/12 checks in a row" in rows
    assert "PASS" not in flat(rows) and "BREACH" not in flat(rows)


async def test_a_long_cause_is_shortened_not_cut() -> None:
    r = rollout(rules=(rule("latency_p95_ms", value=None, limit=500.0, unit="ms", n=0, bad=0, state="no-data",
                            why="stale: last sample 14s ago (limit 2s)", consecutive=1, total=1),
                       rule(value=0.0, n=812, bad=0, window=60.0, state="inconclusive",
                            why="812 requests, need 100000"), UP))
    rows = await shown(r)
    assert "  NO DATA stale: 14s ago (limit 2s)" in rows
    assert "  INCONCLUSIVE 812 req, need 100000" in rows
    assert not any("…" in row for row in rows[3:9]), rows


async def test_a_breach_reads_its_evidence_state_and_counters() -> None:
    r = rollout(rules=(rule(value=0.032, n=500, bad=16, window=25.0, state="breach", consecutive=2, total=2), UP))
    rows = await shown(r)
    assert "error_rate 3.2% (16/500 in 25s) / 1.0%" in rows
    assert "  BREACH  2/3 consecutive · 2/10 total" in rows
    assert "canary up  OK  0/3 consecutive" in rows


async def test_a_min_rule_and_the_score_read_as_minimums() -> None:
    score = RuleView("score", 50.0, 75.0, 1, 2, 1, None, op="<", state="breach")
    rows = await shown(rollout(rules=(rule(), UP, score)))
    assert "score 50 / ≥75 BREACH 1/2 consecutive · 1 total" in flat(rows)


async def test_a_down_canary_reads_down_with_its_cause() -> None:
    down = replace(UP, state="breach", consecutive=2, total=2, why="target canary not answering: connection refused")
    rows = await shown(rollout(rules=(rule(n=500, bad=2, window=25.0), down)))
    assert "canary DOWN  2/3 consecutive · 2 total" in rows
    assert "target canary not answering: connection refused" in flat(rows)
    assert "canary up" not in flat(rows) and "OK" not in flat(rows)


async def test_comparisons_read_their_test_n_and_p() -> None:
    errors = ComparisonView("error_rate", "pass", canary_mean=0.004, baseline_mean=0.005, p_value=0.61, test="Fisher",
                            canary="collect:canary/error_rate", canary_n="2/500", baseline_n="5/1000")
    slow = ComparisonView("latency_p95_ms", "high", failed=True, critical=True, canary_mean=820.0, baseline_mean=300.0,
                          p_value=0.0004, unit="ms", test="Mann-Whitney (buckets)", canary_n="n=480", baseline_n="n=4100")
    waiting = ComparisonView("cpu", "inconclusive", why="canary 8, baseline 80 samples, need 20 each")
    rows = await shown(rollout(comparisons=(errors, slow, waiting), last_decision=""))
    assert "compare error_rate PASS  Fisher p=0.61" in rows
    assert "  canary 0.4% (2/500) vs 0.5% (5/1000)" in rows
    assert "compare latency_p95_ms HIGH (critical)" in rows
    assert "Mann-Whitney (buckets) p=0.0004 820ms (n=480) vs 300ms (n=4100)" in flat(rows)
    assert "compare cpu INCONCLUSIVE canary 8, baseline 80, need 20" in flat(rows)


async def test_a_paused_rollout_says_it_is_still_guarded() -> None:
    r = rollout(status="paused", next_promotion_at=None, hold_left=30.0, verbs=("resume", "freeze", "rollback"),
                rules=(rule(value=0.032, n=500, bad=16, window=25.0, state="breach", consecutive=1, total=1), UP))
    rows = await shown(r)
    assert rows[0].startswith("demo #4 PAUSED weight 25%")
    assert "still guarded (automatic rollback on)" in rows
    assert "NOT guarded" not in flat(rows)
    wide = await shown(r, size=(200, 40))  # room for the whole sentence
    assert "paused at 25% · still guarded (automatic rollback on)" in wide


async def test_waiting_for_a_manual_promotion_is_guarded_too() -> None:
    rows = await shown(rollout(status="waiting-for-promotion", next_promotion_at=None))
    assert "still guarded (automatic rollback on)" in rows


async def test_a_frozen_rollout_says_it_is_not_guarded() -> None:
    r = rollout(status="frozen", guarded=False, next_promotion_at=None, hold_left=30.0, verbs=("resume", "rollback"),
                alert="frozen with a failing canary: canary error_rate 3.2% (16/500 in 25s) > 1.0%",
                rules=(rule(value=0.032, n=500, bad=16, window=25.0, state="breach", consecutive=2, total=2), UP))
    rows = await shown(r)
    assert rows[0].startswith("demo #4 FROZEN weight 25%")
    assert "NOT guarded (automatic rollback off)" in rows
    assert "frozen with a failing canary: canary error_rate 3.2% (16/500 in 25s) > 1.0%" in flat(rows)
    assert "still guarded" not in flat(rows)
    assert "running at 25%" not in flat(rows)
    wide = await shown(r, size=(200, 40))
    assert "frozen at 25% · NOT guarded (automatic rollback off)" in wide


async def test_the_demo_rollout_at_its_worst_fits_the_panel() -> None:
    """The demo's rules, a breach, a down canary, an inconclusive rule, a comparison, a decision
    and five keys: all of it on screen, the keys last, nothing scrolled away."""
    r = rollout(
        rules=(rule(value=0.032, n=500, bad=16, window=25.0, state="breach", consecutive=2, total=2),
               rule("latency_p95_ms", value=None, limit=500.0, unit="ms", n=12, bad=0, window=25.0,
                    state="inconclusive", why="12 requests, need 20"),
               replace(UP, state="breach", consecutive=2, total=2, why="target canary not answering: connection refused"),
               RuleView("score", 100.0, 75.0, 0, 2, 0, None, op="<", state="pass")),
        comparisons=(ComparisonView("error_rate", "pass", canary_mean=0.004, baseline_mean=0.005, p_value=0.61,
                                    test="Fisher", canary_n="2/500", baseline_n="5/1000"),),
        inconclusive=2, inconclusive_limit=12)
    rows = await shown(r)
    text = flat(rows)
    for expected in ("error_rate 3.2% (16/500 in 25s) / 1.0%", "BREACH 2/3 consecutive · 2/10 total",
                     "INCONCLUSIVE 12 requests, need 20", "canary DOWN 2/3 consecutive",
                     "score 100 / ≥75 PASS 0/2 consecutive", "compare error_rate PASS Fisher p=0.61",
                     "inconclusive 2/12 checks in a row", "last: promoted to 25%"):
        assert expected in text
    assert rows[-2:] == ["keys: P promote · G promote to 100% ·", "      H hold · F freeze · R roll back"]


async def test_sparklines_use_spare_rows_only() -> None:
    points = [0.001 * i for i in range(20)]
    sparks = (series("log:canary", "error_rate", points), series("log:baseline", "error_rate", points))
    lone = rule(n=500, bad=2, window=25.0, baseline="log:baseline/error_rate")
    rows = await shown(rollout(rules=(lone, UP)), series=sparks)
    assert any(row.startswith("  c ") and " b " in row for row in rows)  # room to spare: drawn
    crowded = rollout(rules=(lone, *(rule(f"rule{i}", n=500, bad=2, window=25.0) for i in range(5)), UP))
    rows = await shown(crowded, series=sparks)
    assert not any(row.startswith("  c ") for row in rows) and "canary up  OK  0/3 consecutive" in rows


async def test_the_lines_are_built_once_per_rollout_view() -> None:
    """New samples redraw the sparklines; the rule lines are rebuilt only for a new RolloutView."""
    r = rollout(rules=(rule(n=500, bad=2, window=25.0), UP))
    source = FakeSource(snap(rollout=r, series=(series("log:canary", "error_rate", [0.001, 0.002]),)))
    app = OpsConsoleApp(source, refresh=60.0)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panel = app.query_one("#rollout")
        built = panel._layout  # type: ignore[attr-defined]
        source.current = snap(rollout=r, series=(series("log:canary", "error_rate", [0.002, 0.001]),))
        app.refresh_now()
        await pilot.pause()
        assert panel._layout is built  # type: ignore[attr-defined]
        source.current = snap(rollout=replace(r, rules=(rule(value=0.03, n=500, bad=15, window=25.0,
                                                             state="breach", consecutive=1, total=1), UP)))
        app.refresh_now()
        await pilot.pause()
        assert panel._layout is not built  # type: ignore[attr-defined]
        assert "  BREACH  1/3 consecutive · 1/10 total" in screen_rows(app)
