"""A real HTTP server on 127.0.0.1 that misbehaves on purpose, one script per path.

Each path answers with the next ``Answer`` of its script (the last one repeats): a normal
response, a status with headers, a delay, a reset in the middle of the body, a gzip body.
The collectors reach it through a real ``httpx`` client over real sockets, so what they see is
what a misbehaving platform would give them.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import socketserver
import struct
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from xml.sax.saxutils import escape


@dataclasses.dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0  # wall seconds before the status line
    reset_after: int | None = None  # send this many body bytes, then reset the connection
    gzipped: bool = False  # the body is gzip-compressed already: say so

    def wire(self) -> tuple[bytes, bytes]:
        body = self.body
        lines = [f"HTTP/1.1 {self.status} X", f"Content-Type: {self.content_type}",
                 f"Content-Length: {len(body)}", "Connection: close"]  # fmt: skip
        if self.gzipped:
            lines.append("Content-Encoding: gzip")
        lines += [f"{k}: {v}" for k, v in self.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), body


class FaultServer:
    """``with fault_server() as server: server.script("/feed", [Answer(429, ...), Answer()])``"""

    def __init__(self) -> None:
        self._scripts: dict[str, list[Answer]] = {}
        self._lock = threading.Lock()
        self.hits: dict[str, int] = defaultdict(int)
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, path: str, answers: Sequence[Answer]) -> str:
        """Answers for ``path`` in order (the last repeats); returns the path's URL."""
        with self._lock:
            self._scripts[path] = list(answers)
        return f"{self.base}{path}"

    def next_answer(self, path: str) -> Answer:
        with self._lock:
            self.hits[path] += 1
            script = self._scripts.get(path) or [Answer(404, b"no script", "text/plain")]
            return script.pop(0) if len(script) > 1 else script[0]


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        request_line = self.rfile.readline(65537).decode("latin-1")
        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
            pass
        parts = request_line.split()
        if len(parts) < 2:
            return
        path = parts[1].split("?", 1)[0]
        answer = self.server.faults.next_answer(path)
        if answer.delay_s:
            time.sleep(answer.delay_s)
        head, body = answer.wire()
        try:
            if answer.reset_after is None:
                self.wfile.write(head + body)
                return
            self.wfile.write(head + body[: answer.reset_after])
            self.wfile.flush()
            # RST instead of FIN: the client sees a connection reset, not a clean end.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass  # the client gave up first (a timeout): nothing to say


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    faults: FaultServer


@contextmanager
def fault_server() -> Iterator[FaultServer]:
    faults = FaultServer()
    server = _Server(("127.0.0.1", 0), _Handler)
    server.faults = faults
    faults.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield faults
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# -- bodies ---------------------------------------------------------------------------------------


def post_url(host: str, number: int) -> str:
    return f"https://{host}/post/{number}"


def rss(host: str, count: int, *, start: int = 0, encoding: str = "utf-8") -> bytes:
    """An RSS 2.0 feed of ``count`` items linked ``https://{host}/post/N``."""
    items = "".join(
        f"<item><title>{escape(host)}: story number {n} about collection</title>"
        f"<link>{post_url(host, n)}</link><guid isPermaLink='true'>{post_url(host, n)}</guid>"
        f"<pubDate>Tue, 14 May 2024 05:00:00 +0000</pubDate>"
        f"<description>Story {n} from {escape(host)}: queues, streams, déjà vu.</description></item>"
        for n in range(start, start + count)
    )
    declaration = (
        '<?xml version="1.0"?>' if encoding != "utf-8" else '<?xml version="1.0" encoding="utf-8"?>'
    )
    text = (f'{declaration}<rss version="2.0"><channel><title>{host}</title>'
            f"<link>https://{host}/</link><description>d</description>{items}</channel></rss>")  # fmt: skip
    return text.encode(encoding)


def reddit_listing(host: str, count: int) -> bytes:
    children = [
        {"kind": "t3", "data": {
            "id": f"p{n}", "name": f"t3_p{n}", "subreddit": "python",
            "title": f"{host}: reddit post number {n}", "selftext": f"Self text {n}.",
            "is_self": False, "url": post_url(host, n), "permalink": f"/r/python/comments/p{n}/x/",
            "author": "someone", "score": 5, "created_utc": 1715662800.0,
            "stickied": False, "over_18": False}}
        for n in range(count)
    ]  # fmt: skip
    return json.dumps({"kind": "Listing", "data": {"after": None, "children": children}}).encode()


def gzip_bomb(inflated_bytes: int) -> bytes:
    """Zero bytes, gzip-compressed about a thousand-fold (run-length strategy: fast)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31, 9, zlib.Z_RLE)
    zeros = bytes(1024 * 1024)
    parts = [packer.compress(zeros) for _ in range(inflated_bytes // len(zeros))]
    return b"".join([*parts, packer.flush()])
