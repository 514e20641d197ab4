"""Each config field's description: the docstring under it, read from the source when asked for.

pydantic's `use_attribute_docstrings` reads them while every config class is created, parsing its
module's source once per class: ~60 ms and ~0.8 MB of every start (docs/performance.md, seventh
pass), for text that only a config error, the reference and the JSON Schema show. Here a module's
source is parsed once, the first time one of its fields is asked for.
"""

from __future__ import annotations

import ast
import functools
import inspect
import sys

from pydantic import BaseModel


def description(model: type[BaseModel], key: str) -> str:
    """The description of the field `key` names (its alias or its name): its
    `Field(description=...)`, else the docstring under it ("" when it has none or is no field)."""
    field, info = next(((name, f) for name, f in model.model_fields.items() if key in (name, f.alias)), ("", None))
    if info is None:
        return ""
    if info.description:
        return info.description
    for cls in model.__mro__:  # an inherited field is documented where it is declared
        if field in cls.__dict__.get("__annotations__", {}):
            return _module_docs(cls.__module__).get((cls.__qualname__, field), "")
    return ""


@functools.cache
def _module_docs(module: str) -> dict[tuple[str, str], str]:
    """(class qualname, field) -> the docstring under the field, for every class of a module."""
    found: dict[tuple[str, str], str] = {}
    try:
        source = inspect.getsource(sys.modules[module])
    except (OSError, TypeError):  # installed without its .py files: no descriptions, as pydantic did
        return found

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node, after in zip(body, [*body[1:], None], strict=True):
            if isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}{node.name}.")
            elif (prefix and isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                  and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                  and isinstance(after.value.value, str)):
                found[(prefix[:-1], node.target.id)] = inspect.cleandoc(after.value.value)

    visit(ast.parse(source).body, "")
    return found
