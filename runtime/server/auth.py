"""Bearer tokens of the run server (``--token-file``).

Token file format: UTF-8 text, one ``TOKEN OWNER`` pair per line, separated by whitespace; blank lines and lines
starting with ``#`` are ignored. A token is at least 16 printable non-space characters; the owner is a name of
letters, digits, ``-``, ``_``, ``.``, ``@`` (at most 128). One owner may have several tokens (they then share the
owner's runs); a token may appear only once. Example::

    # token                             owner
    3f9c2b7e0d8a4c1f9e6b5a7d3c2e1f0a    alice
    b8e1d2c3f4a5968778695a4b3c2d1e0f    bob

Every request to ``/api/...`` then needs ``Authorization: Bearer TOKEN``; a missing or unknown token answers 401. A
run is stored with its creator's owner (``runs.owner``, RUNTIME §8.2); a token sees and controls only runs of its
owner, and a request for any other run answers 404, exactly as for a run that does not exist. Plans are shared.
Without ``--token-file`` the server is open: no token is asked for, runs are stored with owner NULL and every
client sees every run. Tokens are never accepted in URLs (they would end up in logs).
"""

from __future__ import annotations

import hmac
import re
from pathlib import Path

_OWNER = re.compile(r"[A-Za-z0-9_.@-]{1,128}")
MIN_TOKEN = 16


class TokenFileError(ValueError):
    """A token file that cannot be used; the message names the file and line."""


def parse_tokens(text: str, where: str = "token file") -> dict[str, str]:
    tokens: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2:
            raise TokenFileError(f"{where}:{number}: expected 'TOKEN OWNER'")
        token, owner = parts
        if len(token) < MIN_TOKEN or not token.isprintable():
            raise TokenFileError(f"{where}:{number}: a token needs at least {MIN_TOKEN} printable characters")
        if not _OWNER.fullmatch(owner):
            raise TokenFileError(f"{where}:{number}: owner {owner!r} is not valid (letters, digits, - _ . @)")
        if token in tokens:
            raise TokenFileError(f"{where}:{number}: the token appears twice")
        tokens[token] = owner
    if not tokens:
        raise TokenFileError(f"{where}: no tokens")
    return tokens


def read_token_file(path: str | Path) -> dict[str, str]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenFileError(f"{path}: cannot read the token file: {getattr(exc, 'strerror', None) or exc}") from None
    return parse_tokens(text, str(path))


class Authenticator:
    """``owner_of(header)``: the owner of a bearer token, compared in constant time; None when unknown."""

    def __init__(self, tokens: dict[str, str] | None) -> None:
        self._tokens = [(t.encode(), o) for t, o in (tokens or {}).items()]
        self.enabled = bool(self._tokens)

    def owner_of(self, authorization: str | None) -> str | None:
        if not authorization:
            return None
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        given = value.strip().encode("utf-8", "surrogateescape")
        found = None
        for token, owner in self._tokens:  # no early exit: timing does not tell which token nearly matched
            if hmac.compare_digest(given, token):
                found = owner
        return found
