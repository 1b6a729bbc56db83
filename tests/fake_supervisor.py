"""`python -m tests.fake_supervisor PORT TOKEN RECORD`: Home Assistant's Supervisor as an add-on meets it, on
loopback: `POST /discovery` with the add-on's token is accepted, and each request is recorded as one JSON line
(its path, whether the token was right, its body, and whether the server answered `describe` at that moment)."""

import asyncio
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from wyoming_streamtts.health import check


def serve(port: int, token: str, record: str) -> None:
    class Supervisor(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            entry = {
                "path": self.path,
                "token_ok": self.headers.get("Authorization") == f"Bearer {token}",
                "body": json.loads(body or b"null"),
                "describe_answered": asyncio.run(check("tcp://127.0.0.1:10200", 2.0)) is None,
            }
            with open(record, "a", encoding="utf-8") as out:
                out.write(json.dumps(entry) + "\n")
            status = 200 if entry["token_ok"] else 401
            answer = json.dumps({"result": "ok", "data": {"uuid": "0123"}} if status == 200 else {"result": "error"})
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(answer.encode())

    ThreadingHTTPServer(("127.0.0.1", port), Supervisor).serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2], sys.argv[3])
