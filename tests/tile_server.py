"""A small XYZ tile server on 127.0.0.1 for browser tests of basemaps (tests never reach the
internet): every /{z}/{x}/{y}.png is a plain 256 px PNG, and every path asked for is recorded."""

from __future__ import annotations

import re
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_TILE_PATH = re.compile(r"^/(\d+)/(\d+)/(\d+)\.png$")


def plain_png(size: int = 256, rgb: tuple[int, int, int] = (232, 226, 210)) -> bytes:
    """A one-colour PNG (the colour of a map's land), written with the standard library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * size
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    image = zlib.compress(row * size)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", image) + chunk(b"IEND", b"")
    )


@dataclass
class TileServer:
    template: str  # the XYZ URL template to give --tiles
    requested: list[str] = field(default_factory=list)


@contextmanager
def tile_server() -> Iterator[TileServer]:
    tile = plain_png()
    server_state = TileServer("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server_state.requested.append(self.path)
            if not _TILE_PATH.match(self.path):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(tile)))
            self.end_headers()
            self.wfile.write(tile)

        def log_message(self, *args: object) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.template = f"http://127.0.0.1:{server.server_address[1]}/{{z}}/{{x}}/{{y}}.png"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()
