"""EC2 emulator for the tgw-peering integration tests: moto 5.2.5 in-process,
patched (patches.py) and wrapped by the harness middleware (harness.py).

    .venv/bin/python tests/emulator/server.py [--port N]

Prints `READY http://127.0.0.1:<port>` on stdout once it accepts connections;
everything else goes to stderr. Exits on SIGTERM, SIGINT, or EOF on stdin (so
it dies with the process holding its stdin pipe).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

import patches
from harness import Harness

HOST = "127.0.0.1"


class QuietRequestHandler(MotoRequestHandler):
    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--skip-patch",
        action="append",
        default=[],
        metavar="NAME",
        help="do not apply this patch (to check that the tests catch its gap)",
    )
    parser.add_argument(
        "--ignore-stdin",
        action="store_true",
        help="keep running at EOF on stdin (for starting it by hand in the background)",
    )
    return parser.parse_args()


def _watch_stdin(stop: threading.Event) -> None:
    try:
        while os.read(0, 65536):
            pass
    except OSError:
        pass
    stop.set()


def main() -> int:
    args = _parse_args()
    ready_out = sys.stdout
    sys.stdout = sys.stderr  # moto prints diagnostics; stdout carries only READY

    applied = patches.apply_all(frozenset(args.skip_patch))
    print(f"patches applied: {', '.join(applied) or 'none'}", file=sys.stderr)

    app = Harness(DomainDispatcherApplication(create_backend_app), moto_api_backend.reset)
    server = make_server(HOST, args.port, app, threaded=True, request_handler=QuietRequestHandler)
    serving = threading.Thread(target=server.serve_forever, name="serve", daemon=True)
    serving.start()

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if not args.ignore_stdin:
        threading.Thread(target=_watch_stdin, args=(stop,), name="stdin", daemon=True).start()

    ready_out.write(f"READY http://{HOST}:{server.server_address[1]}\n")
    ready_out.flush()

    while not stop.wait(0.2):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
