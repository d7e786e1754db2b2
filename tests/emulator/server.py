"""EC2 emulator for the tgw-peering integration tests: moto 5.2.5 in-process,
patched (patches.py) and wrapped by the harness middleware (harness.py).
With --stepfunctions and --lambda-bin-dir it is a "local AWS" that deploys the
CloudFormation template and runs the state machine on the real Lambda binaries.

    .venv/bin/python tests/emulator/server.py [--port N] [--stepfunctions]
        [--lambda-bin-dir DIR [--cargo-lambda PATH] [--lambda-log-dir DIR]]

Prints `READY http://127.0.0.1:<port>` on stdout once it accepts connections;
everything else goes to stderr. Exits on SIGTERM, SIGINT, or EOF on stdin (so
it dies with the process holding its stdin pipe), stopping every process it
started.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import TextIO

from moto.core.config import default_user_config
from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

import lambda_runner
import patches
import request_models
from harness import Harness

HOST = "127.0.0.1"
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # cargo-lambda reads Cargo.toml here


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
        "--stepfunctions",
        action="store_true",
        help="run state machine executions (moto's Step Functions interpreter)",
    )
    parser.add_argument(
        "--lambda-bin-dir",
        type=Path,
        metavar="DIR",
        help="run Lambda invokes on the binaries in DIR, through `cargo lambda watch`",
    )
    parser.add_argument(
        "--cargo-lambda",
        type=Path,
        default=Path(sys.executable).with_name("cargo-lambda"),
        metavar="PATH",
        help="the cargo-lambda binary (default: next to this Python)",
    )
    parser.add_argument(
        "--lambda-log-dir",
        type=Path,
        metavar="DIR",
        help="where each function's stdout+stderr go, as <function name>.log (default: a temp dir)",
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

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if not args.ignore_stdin:
        threading.Thread(target=_watch_stdin, args=(stop,), name="stdin", daemon=True).start()

    applied = patches.apply_all(frozenset(args.skip_patch))
    skipped = ", ".join(sorted(args.skip_patch)) or "none"
    print(f"{len(applied)} patches applied (skipped: {skipped})", file=sys.stderr)

    runner = None
    try:
        if args.lambda_bin_dir is not None:
            log_dir = args.lambda_log_dir or Path(tempfile.mkdtemp(prefix="tgw-peering-lambda-"))
            print(f"lambda logs: {log_dir.resolve()}", file=sys.stderr)
            runner = lambda_runner.LambdaRunner(
                args.lambda_bin_dir.resolve(), args.cargo_lambda, PROJECT_ROOT, log_dir.resolve()
            )
            runner.start()
            lambda_runner.install(runner)
        if not stop.is_set():
            _serve(args, runner, stop, ready_out)
    except RuntimeError as e:
        print(f"server.py: {e}", file=sys.stderr)
        return 1
    finally:
        if runner is not None:
            runner.stop()
    return 0


def _serve(
    args: argparse.Namespace,
    runner: lambda_runner.LambdaRunner | None,
    stop: threading.Event,
    ready_out: TextIO,
) -> None:
    # Requests the harness lets through meet the API model check before moto (the patch
    # requests_match_the_api_model switches it on).
    moto = request_models.ModelValidator(DomainDispatcherApplication(create_backend_app))
    app = Harness(moto, moto_api_backend.reset, runner)
    server = make_server(HOST, args.port, app, threaded=True, request_handler=QuietRequestHandler)
    port = server.server_address[1]
    if args.stepfunctions:
        # The interpreter calls the services of its Task states back on this port
        # (POST /moto-api/config {"stepfunctions": {"execute_state_machine": true}}).
        os.environ["MOTO_PORT"] = str(port)
        default_user_config["stepfunctions"] = {"execute_state_machine": True}
    if runner is not None:
        runner.endpoint_url = f"http://{HOST}:{port}"
        runner.ec2_calls = lambda: app.get_calls({})
    serving = threading.Thread(target=server.serve_forever, name="serve", daemon=True)
    serving.start()

    ready_out.write(f"READY http://{HOST}:{port}\n")
    ready_out.flush()

    while not stop.wait(0.2):
        pass
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    sys.exit(main())
