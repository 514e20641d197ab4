"""`demo.scenario`: a scripted story for the demo's canary rollout, so a newcomer sees an automatic
rollback with its explanation. From `canary_fails_at_weight` percent of traffic on, the canary
answers `error_rate` of its requests with errors; below it, its configured faults are back.

The demo learns its weight from the router's /admin/weight, which the canary's `demo` actuator
calls, so the story needs nothing from the canary but that.
"""

from __future__ import annotations

from engine.config.schema import DemoScenario
from engine.demo.state import DemoState


class CanaryFailsScenario:
    def __init__(self, state: DemoState, scenario: DemoScenario) -> None:
        self.state = state
        self.scenario = scenario
        self.normal_error_rate = state.faults("canary").error_rate
        self.failing = False
        self.weight_changed(state.canary_weight)

    @classmethod
    def attach(cls, state: DemoState, scenario: DemoScenario) -> CanaryFailsScenario | None:
        if scenario.canary_fails_at_weight is None:
            return None
        story = cls(state, scenario)
        state.on_weight = story.weight_changed
        return story

    def weight_changed(self, weight: int) -> None:
        threshold = self.scenario.canary_fails_at_weight
        failing = threshold is not None and weight >= threshold
        if failing == self.failing:
            return
        self.failing = failing
        rate = self.scenario.error_rate if failing else self.normal_error_rate
        self.state.set_faults("canary", error_rate=rate)
