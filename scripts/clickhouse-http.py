#!/usr/bin/env python3
"""A local ClickHouse HTTP endpoint on top of chDB (the real ClickHouse engine, in-process).

TEST AND DEMO STAND-IN ONLY: no modern ClickHouse server package exists on these machines,
so the integration tests and the demo talk to this. wirehouse's ClickHouse sink speaks plain
ClickHouse HTTP and works unchanged against a real server.

Serves on 127.0.0.1:PORT (default 8123):
  GET  /ping                                  -> "Ok.\\n"
  GET|POST /?query=SQL                        -> result (default format TabSeparated)
  POST /  (query in the body)                 -> result
  POST /?query=INSERT INTO t [(...)] FORMAT F  with the data in the body
  URL parameters other than query/database/user/password/default_format are settings
  (e.g. insert_deduplication_token=...). Errors: HTTP 4xx/5xx with a body
  "Code: N. DB::Exception: ..." and the X-ClickHouse-Exception-Code header, like ClickHouse.
  --user/--password: require them (X-ClickHouse-User/Key headers or basic auth).

Usage: clickhouse-http.py [--port 8123] [--path DIR] [--user U --password P]
"""

import argparse
import base64
import gzip
import os
import re
import sys
import tempfile
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from chdb import session

LOCK = threading.Lock()
INSERT_FORMAT = re.compile(r"^\s*INSERT\s+INTO\s+(.+?)\s+FORMAT\s+(\w+)\s*;?\s*$", re.I | re.S)
# ClickHouse answers some error codes with a specific HTTP status.
STATUS = {62: 400, 60: 404, 81: 404, 16: 404, 516: 401, 497: 403, 27: 400, 53: 400, 117: 400}
RESERVED = {"query", "database", "user", "password", "default_format", "query_id"}


def code_of(msg):
    m = re.search(r"Code:\s*(\d+)", msg)
    return int(m.group(1)) if m else 1000


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("clickhouse-http: " + fmt % args + "\n")

    def reply(self, status, body, extra=None):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def fail(self, msg):
        code = code_of(msg)
        text = msg if msg.startswith("Code:") else f"Code: {code}. DB::Exception: {msg}"
        self.reply(STATUS.get(code, 500), text.rstrip() + "\n", {"X-ClickHouse-Exception-Code": str(code)})

    def authorized(self, params):
        want = self.server.credentials
        if not want:
            return True
        user = self.headers.get("X-ClickHouse-User") or params.get("user")
        key = self.headers.get("X-ClickHouse-Key") or params.get("password")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                user, key = base64.b64decode(auth[6:]).decode().split(":", 1)
            except ValueError:
                pass
        return (user, key) == want

    def do_GET(self):
        self.handle_query(b"")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        self.handle_query(body)

    def handle_query(self, body):
        url = urllib.parse.urlsplit(self.path)
        if url.path in ("/ping", "/ping/"):
            return self.reply(200, "Ok.\n")
        params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        if not self.authorized(params):
            return self.fail("Code: 516. DB::Exception: default: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)")
        settings = {k: v for k, v in params.items() if k not in RESERVED}
        query = params.get("query")
        data = None
        if query is None:
            query, body = body.decode("utf-8", "replace"), b""
        elif body:
            data = body
        fmt = params.get("default_format", "TabSeparated")
        m = INSERT_FORMAT.match(query)
        tmp = None
        try:
            if m and data is not None:
                table, infmt = m.group(1), m.group(2)
                fd, tmp = tempfile.mkstemp(prefix="chhttp.", dir=self.server.tmpdir)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                sets = ", ".join(f"{k} = '{v}'" for k, v in settings.items())
                sql = f"INSERT INTO {table} " + (f"SETTINGS {sets} " if sets else "") + \
                      f"SELECT * FROM file('{tmp}', '{infmt}')"
                fmt = "TabSeparated"
            else:
                sql = query
                if settings and not re.search(r"\bSETTINGS\b", sql, re.I):
                    sets = ", ".join(f"{k} = '{v}'" for k, v in settings.items())
                    if re.match(r"\s*(SELECT|WITH|INSERT)", sql, re.I):
                        sql = sql.rstrip().rstrip(";") + f" SETTINGS {sets}"
            with LOCK:
                res = self.server.chdb.query(sql, fmt)
            out = res.bytes() if hasattr(res, "bytes") else str(res).encode()
            self.reply(200, out)
        except Exception as e:  # chDB raises with ClickHouse's own message
            self.fail(str(e))
        finally:
            if tmp:
                os.unlink(tmp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8123)
    ap.add_argument("--path", default=None, help="chDB data directory (default: a temporary one)")
    ap.add_argument("--user")
    ap.add_argument("--password", default="")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    path = a.path or tempfile.mkdtemp(prefix="chdb-http.")
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.chdb = session.Session(path)
    srv.tmpdir = tempfile.mkdtemp(prefix="chdb-http-in.")
    srv.credentials = (a.user, a.password) if a.user else None
    srv.verbose = a.verbose
    print(f"clickhouse-http (chDB) listening on http://127.0.0.1:{srv.server_port} data={path}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
