"""A deterministic OpenAI-compatible judge endpoint on 127.0.0.1 for fast HTTP tests.

It reads the standard and the user's answer out of our judge prompt and answers
"Verdict: correct" when they are equal ignoring case and surrounding spaces/periods, else
"Verdict: incorrect"; a user's answer containing "ramble" gets an answer without a verdict.
``fail_next`` makes the next N requests answer HTTP 500; ``down`` makes every request 503;
``down_after = N`` makes every request after the first N answer 503 (a judge that dies
mid-run).
Every payload is recorded, so tests count requests on the server side.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_FIELDS = re.compile(r"Standard answer: (.*)\nUser's answer: (.*)\nQuestion: ", re.DOTALL)


def stub_verdict(gold: str, response: str) -> str:
    if "ramble" in response:
        return "Well, it depends on many things."
    same = gold.strip(" .").lower() == response.strip(" .").lower()
    return "Verdict: correct\nSame answer." if same else "Verdict: incorrect\nDifferent answer."


class StubJudgeServer:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.payloads: list[dict] = []
        self.auth: list[str | None] = []
        self.fail_next = 0
        self.down = False
        self.down_after: int | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.payloads.append(body)
                    server.auth.append(self.headers.get("Authorization"))
                    if server.down_after is not None and len(server.payloads) > server.down_after:
                        server.down = True
                    failing = server.down or server.fail_next > 0
                    if server.fail_next > 0:
                        server.fail_next -= 1
                if failing:
                    status, reply = 503 if server.down else 500, {"error": {"message": "judge unavailable"}}
                else:
                    m = _FIELDS.search(body["messages"][0]["content"])
                    answer = stub_verdict(m.group(1), m.group(2)) if m else "no prompt?"
                    status, reply = 200, {"choices": [{"message": {"role": "assistant", "content": answer}}]}
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def n_requests(self) -> int:
        with self.lock:
            return len(self.payloads)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
