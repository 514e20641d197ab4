"""Alerts in the console: a toast when one starts firing, the bell for critical ones (when asked
for), and `s` to silence one with a comment — keyboard only, refused in read-only mode."""

from __future__ import annotations

import dataclasses

from console_fakes import T0, snap

from console.screens.silence import SilenceScreen
from engine.commands import CommandResult
from engine.snapshot import AlertView

CRITICAL = AlertView("HighErrorRate", "firing", "critical", T0, "canary/error_rate", 0.03, "error rate above 1%")
WARNING = AlertView("HostCpuHigh", "firing", "warning", T0, "host/cpu_pct", 91.0, condition="> 80 for 3m")
PENDING = AlertView("HostMemoryHigh", "pending", "warning", T0, "host/mem_pct", 88.0)


def toasts(app) -> list[str]:
    return [text for _, _, text in app.notices]


async def test_a_toast_per_newly_firing_alert_and_the_bell_only_for_critical(make_app, source, monkeypatch) -> None:
    app = make_app(bell=True)
    rings: list[int] = []
    monkeypatch.setattr(app, "bell", lambda: rings.append(1))
    async with app.run_test() as pilot:
        await pilot.pause()
        source.current = snap(alerts=(WARNING, PENDING))
        app.refresh_now()
        assert toasts(app) == ["warning alert firing: HostCpuHigh: host/cpu_pct 91 (> 80 for 3m)"]
        assert rings == []  # a warning does not ring
        source.current = snap(alerts=(CRITICAL, WARNING, PENDING))
        app.refresh_now()
        app.refresh_now()
        assert toasts(app)[1:] == ["critical alert firing: HighErrorRate: error rate above 1%"]
        assert rings == [1]
        assert [sev for _, sev, _ in app.notices] == ["warning", "error"]
        muted = dataclasses.replace(CRITICAL, name="Other", silenced=True)
        source.current = snap(alerts=(CRITICAL, WARNING, muted))
        app.refresh_now()
        assert len(toasts(app)) == 2 and rings == [1]  # a silenced alert is not news


async def test_no_bell_unless_configured(make_app, source, monkeypatch) -> None:
    app = make_app()
    rings: list[int] = []
    monkeypatch.setattr(app, "bell", lambda: rings.append(1))
    async with app.run_test() as pilot:
        source.current = snap(alerts=(CRITICAL,))
        app.refresh_now()
        await pilot.pause()
        assert rings == [] and len(toasts(app)) == 1


async def test_silence_with_a_comment_sends_the_audited_command(make_app, source) -> None:
    source.handlers["alerts.silence"] = lambda c: CommandResult(True, f"{c.args['rule']} silenced")
    source.current = snap(alerts=(PENDING, WARNING, CRITICAL))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SilenceScreen)
        assert screen.chosen.name == "HostCpuHigh"  # the first unmuted firing alert
        await pilot.press("down")
        assert screen.chosen.name == "HighErrorRate"
        await pilot.press("enter")  # no comment yet: refused inside the modal
        await pilot.pause()
        assert isinstance(app.screen, SilenceScreen) and source.submitted == []
        assert "needs a comment" in str(screen.query_one("#silence-hint").render())
        await pilot.press(*"rolling back", "tab", "ctrl+u", *"30m", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, SilenceScreen)
        [command] = source.submitted
        assert command.name == "alerts.silence"
        assert command.args == {"rule": "HighErrorRate", "comment": "rolling back", "duration": "30m"}
        assert "HighErrorRate silenced" in toasts(app)[-1]


async def test_a_bad_duration_is_said_in_the_modal_and_escape_cancels(make_app, source) -> None:
    source.current = snap(alerts=(CRITICAL,))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("s", *"on it", "tab", "ctrl+u", *"9d", "enter")
        await pilot.pause()
        assert "a silence lasts 1m..7d, got 9d" in str(app.screen.query_one("#silence-hint").render())
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, SilenceScreen) and source.submitted == []
        assert toasts(app)[-1] == "silence alert: cancelled"


async def test_nothing_to_silence_and_read_only_say_why(make_app, source) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await pilot.press("s")
        await pilot.pause()
        assert toasts(app)[-1] == "silence alert: no firing, pending or no-data alert to silence"
    source.current = snap(alerts=(CRITICAL,))
    read_only = make_app(read_only=True)
    async with read_only.run_test() as pilot:
        await pilot.press("s")
        await pilot.pause()
        assert not isinstance(read_only.screen, SilenceScreen)
        assert "read-only: silencing an alert is disabled (started with --read-only)" in toasts(read_only)[-1]


def test_no_alert_news_while_reviewing_the_history() -> None:
    from console.panels.health import AlertNews
    from engine.snapshot import SourceMode

    news = AlertNews()
    assert news.update(snap(mode=SourceMode.REVIEW, alerts=(CRITICAL,))) == []
    assert news.update(snap(alerts=(CRITICAL, WARNING)))[0].text.startswith("HostCpuHigh: ")  # live again
