"""The running config (`c`): the effective config as YAML — every default filled in, secrets as
***, which file it came from and which keys the environment overrode — so an operator on call can
read what the engine runs without finding the file or its `${VARS}`.

Where it comes from:
- the console's own engine: the config it loaded (`LoadedConfig.show()`, as `config show` prints);
- an attached engine, or review: the config the run recorded in its history ("engine started"
  carries it, engine/history/runs.py; its secrets were masked when written). Read in a thread.
Keys: up/down/page keys scroll, `/` finds text, `q` or escape closes.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Static, TextArea


@dataclass(frozen=True)
class ConfigText:
    origin: str  # "/etc/opsconsole/config.yaml, profile prod" / "recorded by the run started 14:02:07"
    text: str  # YAML, secrets masked
    overrides: tuple[str, ...] = ()  # "store.path ← env OPSCONSOLE_STORE__PATH"


def from_loaded(loaded: object) -> ConfigText:
    """The console's own engine: what it loaded, with the keys the environment set."""
    from engine.config.loader import LoadedConfig

    assert isinstance(loaded, LoadedConfig)
    origin = str(loaded.path) if loaded.path is not None else "built-in defaults"
    if loaded.profile:
        origin += f", profile {loaded.profile}"
    by_env = {key: where for key, where in loaded.origins.items() if where.startswith("env ")}
    leaves = [key for key in by_env if not any(other.startswith(key + ".") for other in by_env)]
    overrides = tuple(f"{key} ← {by_env[key]}" for key in sorted(leaves))
    return ConfigText(origin, loaded.show(), overrides)


def from_record(config: object, origin: str) -> ConfigText:
    """A run's recorded config (already masked when the engine wrote it), with defaults filled in."""
    import yaml

    from engine import secrets
    from engine.config.schema import Config

    assert isinstance(config, Config)
    text = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True, default_flow_style=False)
    return ConfigText(origin, secrets.redact(text))


class ConfigScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    ConfigScreen { align: center middle; }
    ConfigScreen > Vertical { width: 100%; height: 100%; border: round $primary; background: $surface; }
    ConfigScreen #config-origin { color: $text-muted; height: auto; }
    ConfigScreen TextArea { height: 1fr; border: none; }
    ConfigScreen #config-find { display: none; }
    ConfigScreen #config-find.-shown { display: block; }
    """
    BINDINGS = [
        Binding("q,escape", "close", "close"),
        Binding("slash", "find", "find"),
        Binding("n", "find_next", "next match", show=False),
    ]

    def __init__(self, shown: ConfigText) -> None:
        super().__init__()
        self.shown = shown
        self.matches_from = 0

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Running config"
            box.border_subtitle = "/: find · n: next match · q / escape: close"
            header = [("from ", "$text-muted"), self.shown.origin, ("  ·  secrets shown as ***", "$text-muted")]
            if self.shown.overrides:
                header += ["\n", ("set by the environment: ", "$text-muted"), ", ".join(self.shown.overrides)]
            yield Static(Content.assemble(*header), id="config-origin")
            yield Input(placeholder="find (enter: next match, escape: back)", id="config-find")
            yield TextArea(self.shown.text, read_only=True, language=None, show_line_numbers=True, id="config-text")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_find(self) -> None:
        box = self.query_one("#config-find", Input)
        box.add_class("-shown")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_find_next()

    def action_find_next(self) -> None:
        needle = self.query_one("#config-find", Input).value.strip().lower()
        area = self.query_one(TextArea)
        if not needle:
            return
        lines = self.shown.text.lower().splitlines()
        start = area.cursor_location[0] + 1 if self.matches_from else 0
        order = list(range(start, len(lines))) + list(range(0, start))
        found = next((row for row in order if needle in lines[row]), None)
        if found is None:
            self.notify(f"{needle!r} is not in the config", severity="warning", timeout=3)
            return
        self.matches_from = 1
        column = lines[found].index(needle)
        area.cursor_location = (found, column)
        area.scroll_cursor_visible(center=True)

    def action_close(self) -> None:
        finder = self.query_one("#config-find", Input)
        if finder.has_focus:  # escape in the find box: back to the text
            finder.remove_class("-shown")
            self.query_one(TextArea).focus()
            return
        self.dismiss(None)
