"""`format: json`: named fields of a JSON document, by path (`data.requests.total`, `items[0].value`)."""

from __future__ import annotations

from engine.collect.client import Answer
from engine.collect.config import JsonTarget
from engine.collect.formats.base import Decoded, Request, Sample, as_number, load_json
from engine.jsonpath import follow, parse_path


class JsonFormat:
    accepts_error_status = False

    def __init__(self, target: JsonTarget) -> None:
        self.paths = {metric: (path, parse_path(path)) for metric, path in target.fields.items()}

    def requests(self, url: str) -> list[Request]:
        return [Request(url)]

    def decode(self, answer: Answer, request: Request) -> Decoded:
        document = load_json(answer.body)
        out = Decoded()
        for metric, (text, steps) in self.paths.items():
            found, value, where = follow(document, steps)
            if not found:
                out.warnings.append(f"field {metric}: {text} not found (no {text!r} under {where})")
                continue
            number = as_number(value)
            if number is None:
                out.warnings.append(f"field {metric}: {text} is not a number ({type(value).__name__})")
                continue
            out.samples.append(Sample(metric, number))
        return out

    def error_detail(self, answer: Answer) -> str:
        return ""
