"""Reading a WSGI request's body, in one place for the harness and the IAM evaluator."""

from __future__ import annotations

import io
from typing import Any


def read_body(environ: dict[str, Any]) -> bytes:
    """The request body, consumed: its Content-Length, or the whole stream of a chunked one."""
    stream = environ["wsgi.input"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        return stream.read(length)
    if environ.get("wsgi.input_terminated"):  # chunked request body
        return stream.read()
    return b""


def peek_body(environ: dict[str, Any]) -> bytes:
    """The request body, put back so that the next reader (moto) reads it whole."""
    body = read_body(environ)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body
