"""Running a ``%carbon`` statement, or a ``%%carbon`` body run inside another cell, as IPython
runs a cell (a ``%%carbon`` cell of its own is run by IPython itself: see tracked_cells.py).

The code goes through IPython's input transformers (so ``!ls``, ``%time`` and other magics
work inside), its AST transformers and its caching compiler (so tracebacks show the cell's
lines as ``Cell In[N], line L``, numbered as in the cell). The value of a last expression
is returned, and IPython displays it as the cell's ``Out[N]``. Exceptions propagate
unchanged; this module's frames are hidden from IPython's tracebacks.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from IPython.core.displayhook import DisplayHook


@dataclass(frozen=True)
class Compiled:
    """A body compiled in two parts: the statements, and the last expression if any.

    ``silenced``: the last expression ends with ``;``, so its value is not displayed.
    """

    statements: Any
    last_expression: Any
    silenced: bool = False


def compile_source(shell: Any, source: str, cell_number: int | None, first_line_number: int = 1) -> Compiled:
    """Compile ``source`` as IPython compiles cell ``cell_number``; SyntaxError as it reports it.

    ``first_line_number``: the cell line where ``source`` starts (2 for a cell magic's body),
    so that tracebacks number lines as the cell shows them.
    """
    padded = "\n" * (first_line_number - 1) + source
    try:  # plain Python is left as it is by IPython's input transformers: skip them
        tree = ast.parse(padded)
    except SyntaxError:
        padded = "\n" * (first_line_number - 1) + shell.transform_cell(source)
        tree = None
    filename = shell.compile.cache(padded, cell_number or 0, raw_code=padded)
    if tree is None:
        tree = shell.compile.ast_parse(padded, filename=filename)
    tree = shell.transform_ast(tree)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    flags = shell.compile.flags
    statements = compile(tree, filename, "exec", flags, dont_inherit=True)
    if last is None:
        return Compiled(statements, None)
    expression = compile(last, filename, "eval", flags, dont_inherit=True)
    return Compiled(statements, expression, _ends_with_semicolon(padded))


def _ends_with_semicolon(code: str) -> bool:
    """True if the last Python token of ``code`` is ';' (comments ignored), as IPython judges it."""
    check = getattr(DisplayHook, "semicolon_at_end_of_expression", None)  # IPython >= 8.12
    return check(code) if check is not None else code.rstrip().endswith(";")


def run_compiled(shell: Any, code: Compiled, local_ns: dict | None = None) -> Any:
    """Run ``code`` in the user's namespace; the last expression's value is returned."""
    __tracebackhide__ = True  # noqa: F841 (read by IPython's traceback formatter)
    namespace = shell.user_ns if local_ns is None else local_ns
    exec(code.statements, shell.user_global_ns, namespace)
    if code.last_expression is not None:
        return eval(code.last_expression, shell.user_global_ns, namespace)
    return None
