"""``ncd-run serve``: the multi-tenant run server (HTTP API, isolated runs, live progress). See ``app.py``."""

from runtime.server.app import create_app, serve
from runtime.server.auth import TokenFileError, read_token_file

__all__ = ["TokenFileError", "create_app", "read_token_file", "serve"]
