"""A do-nothing Lambda function for bench.py: it speaks the Lambda runtime API
($AWS_LAMBDA_RUNTIME_API) over one kept-alive HTTP/1.1 connection, as the Rust runtime does, and
answers every event with {} at once. Its warm invocations measure what the local runtime API
(`cargo lambda watch`) and the runner add to any invocation, so that the functions' warm times
can be read against that floor.

With BENCH_QUICKACK=1 it sets TCP_QUICKACK on its socket after every exchange (Linux), which
shows how much of the floor is delayed ACKs on that connection rather than work.

bench.py copies it under a project binary's name (cargo-lambda routes only those), with the
bench's Python as its interpreter.
"""

import http.client
import os
import socket


def main() -> None:
    api = os.environ["AWS_LAMBDA_RUNTIME_API"].removeprefix("http://")
    host_port, _, prefix = api.partition("/")
    host, _, port = host_port.partition(":")
    base = (f"/{prefix}" if prefix else "") + "/2018-06-01/runtime/invocation"
    quickack = os.environ.get("BENCH_QUICKACK") == "1"
    connection = http.client.HTTPConnection(host, int(port))

    def exchange(method: str, path: str, body: bytes | None = None) -> http.client.HTTPResponse:
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        if quickack:
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        return connection.getresponse()

    while True:
        response = exchange("GET", f"{base}/next")
        request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
        response.read()
        exchange("POST", f"{base}/{request_id}/response", b"{}").read()


if __name__ == "__main__":
    main()
