"""oauth/ knows no provider (#24): no message or default of it names Xero, a XERO_
variable or Xero's 60-day refresh-token lifetime. Those come in as a `Provider`; the
import contract in pyproject.toml keeps xero/ out of its imports, this test its text.
Docstrings may cite Xero as the source of a behaviour; string values may not."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import oauth_etl.oauth
from oauth_etl.app.provider import XERO
from oauth_etl.oauth.errors import InvalidClient, TokenEndpointUnreachable
from oauth_etl.oauth.provider import NEUTRAL

PROVIDER_TEXT = re.compile(r"xero|60[ -]day|60 \* 24", re.IGNORECASE)


def strings_of(path: Path) -> list[tuple[int, str]]:
    """Every string value of a module but its docstrings (f-string parts included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]
    # Numbers written as a lifetime (60 * 24 * 3600) are defaults too.
    found += [
        (node.lineno, ast.unparse(node))
        for node in ast.walk(tree)
        if isinstance(node, ast.BinOp) and "60 * 24" in ast.unparse(node)
    ]
    return found


def test_no_message_or_default_in_oauth_names_the_provider() -> None:
    package = Path(oauth_etl.oauth.__file__).parent
    named = [
        f"{path.name}:{line}: {text!r}"
        for path in sorted(package.glob("*.py"))
        for line, text in strings_of(path)
        if PROVIDER_TEXT.search(text)
    ]
    assert named == []


def test_the_check_sees_a_provider_name_in_a_message(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        '"""Xero\'s docs say so."""\nX = f"set XERO_CLIENT_ID {1}"\nY = 60 * 24 * 3600\n'
    )
    flagged = {line for line, text in strings_of(module) if PROVIDER_TEXT.search(text)}
    assert flagged == {2, 3}  # the f-string and the lifetime, not the docstring


def test_messages_name_the_variables_the_provider_gives() -> None:
    message = str(InvalidClient("cid", settings="A_ID / A_SECRET"))
    assert "A_ID / A_SECRET" in message and "XERO" not in message
    assert "XERO_IDENTITY_URL" in str(
        TokenEndpointUnreachable("u", "r", request_sent=False, setting=XERO.identity_url_setting)
    )
    assert NEUTRAL.refresh_lifetime_text() == ""
    assert XERO.refresh_lifetime_text() == "expired after 60 days unused, "
