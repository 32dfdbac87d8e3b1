"""Test registries on loopback: Debian's docker-registry (distribution) started on a free
port, optionally with htpasswd basic auth or TLS; a small proxy in front of one that can
demand Bearer tokens from its own token endpoint, slow blob downloads down, cut them,
redirect them, speak TLS, and records what it was asked; a pusher for OCI layouts that
speaks the registry HTTP API; a test CA made with the openssl CLI."""
import base64
import ctypes
import hashlib
import http.client
import http.server
import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

REGISTRY_BIN = "/usr/bin/docker-registry"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def htpasswd_line(user, password):
    """bcrypt entry via htpasswd(1) from apache2-utils (the registry accepts only bcrypt)."""
    out = subprocess.run(["htpasswd", "-nbB", user, password], capture_output=True, text=True,
                         check=True).stdout
    return out.strip() + "\n"


class CertAuthority:
    """A certificate authority of the test's own, and server certificates it signs, made
    with the openssl CLI in `workdir`."""

    def __init__(self, workdir, name="stack test CA"):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cert, self.key = self.dir / "ca.crt", self.dir / "ca.key"
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                      "-nodes", "-keyout", self.key, "-out", self.cert, "-days", "2",
                      "-subj", f"/CN={name}",
                      "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def _openssl(self, *args):
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)

    def server_cert(self, name, ips=("127.0.0.1",)):
        """(certificate, key) for host `name` (and the IPs) signed by this CA."""
        key, csr, crt = (self.dir / f"{name}.{ext}" for ext in ("key", "csr", "crt"))
        ext = self.dir / f"{name}.ext"
        san = ",".join([f"DNS:{name}"] + [f"IP:{ip}" for ip in ips])
        ext.write_text(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                       "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
        self._openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                      "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
        self._openssl("x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key,
                      "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext)
        return crt, key

    def client_context(self):
        return ssl.create_default_context(cafile=str(self.cert))


def _die_with_parent():
    """In the registry's child: SIGTERM when the process that started it ends, so that a
    killed pytest or benchmark leaves no registry behind (PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)


class Registry:
    def __init__(self, workdir, users=None, port=None, tls=None, name="127.0.0.1"):
        """tls=(certificate, key): serve HTTPS only; name: the host name clients use."""
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.users = users or {}
        self.tls = tls
        self.name = name
        self.context = None  # ssl context for pushing to a TLS registry
        self.proc = None

    @property
    def host(self):
        if self.tls and self.port == 443:
            return self.name
        return f"{self.name}:{self.port}"

    @property
    def base(self):
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def config(self):
        cfg = [
            "version: 0.1",
            "log: {level: error, accesslog: {disabled: true}}",
            "storage:",
            f"  filesystem: {{rootdirectory: {self.dir / 'data'}}}",
            "  delete: {enabled: true}",
            "  maintenance: {uploadpurging: {enabled: false}}",
            "http:",
            f"  addr: 127.0.0.1:{self.port}",
            f"  secret: {secrets.token_hex(16)}",
        ]
        if self.tls:
            cfg += [f"  tls: {{certificate: {self.tls[0]}, key: {self.tls[1]}}}"]
        if self.users:
            pw = self.dir / "htpasswd"
            pw.write_text("".join(htpasswd_line(u, p) for u, p in self.users.items()))
            cfg += ["auth:", f"  htpasswd: {{realm: stack-test, path: {pw}}}"]
        path = self.dir / "config.yml"
        path.write_text("\n".join(cfg) + "\n")
        return path

    def start(self):
        cfg = self.config()
        self.log = open(self.dir / "registry.log", "ab")
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", str(cfg)], stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=_die_with_parent)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("docker-registry exited: " +
                                   (self.dir / "registry.log").read_text()[-2000:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("docker-registry did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()
            self.log = None

    def blob_path(self, digest):
        hexd = digest.split(":", 1)[1]
        return self.dir / "data/docker/registry/v2/blobs/sha256" / hexd[:2] / hexd / "data"

    def push(self, layout, repo, tag, auth=None):
        return push_layout(layout, self.base, repo, tag, auth, self.context)


def _request(method, url, data=None, headers=None, auth=None, context=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if auth:
        tok = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", "Basic " + tok)
    with urllib.request.urlopen(req, timeout=60, context=context) as resp:
        return resp.status, dict(resp.headers), resp.read()


def push_blob(base, repo, data, auth=None, context=None):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    try:
        _request("HEAD", f"{base}/v2/{repo}/blobs/{digest}", auth=auth, context=context)
        return digest
    except urllib.error.HTTPError as e:
        if e.code != 404:
            raise
    _, h, _ = _request("POST", f"{base}/v2/{repo}/blobs/uploads/", data=b"", auth=auth,
                       context=context)
    loc = h["Location"]
    if loc.startswith("/"):
        loc = base + loc
    sep = "&" if "?" in loc else "?"
    _request("PUT", f"{loc}{sep}digest={digest}", data=data,
             headers={"Content-Type": "application/octet-stream"}, auth=auth, context=context)
    return digest


def push_layout(layout, base, repo, tag, auth=None, context=None):
    """Pushes the single image of an OCI layout; returns the manifest digest."""
    layout = Path(layout)
    index = json.loads((layout / "index.json").read_text())
    desc = index["manifests"][0]

    def blob(d):
        return (layout / "blobs/sha256" / d.split(":", 1)[1]).read_bytes()

    manifest = blob(desc["digest"])
    m = json.loads(manifest)
    for d in [m["config"]] + m["layers"]:
        push_blob(base, repo, blob(d["digest"]), auth, context)
    _request("PUT", f"{base}/v2/{repo}/manifests/{tag}", data=manifest,
             headers={"Content-Type": m.get("mediaType") or desc["mediaType"]}, auth=auth, context=context)
    return desc["digest"]


def put_manifest(base, repo, ref, body, media_type, auth=None):
    _request("PUT", f"{base}/v2/{repo}/manifests/{ref}", data=body,
             headers={"Content-Type": media_type}, auth=auth)


# ---- the proxy -----------------------------------------------------------------------

class Proxy:
    """Forwards GET/HEAD to a backend registry. Options:
    token=(user, password) or token=True: demand Bearer tokens from /token (with Basic
    credentials checked when given); throttle=bytes per second for blob bodies;
    cut_after=bytes: close blob connections after that many body bytes; redirect_blobs:
    answer blob GETs with a 307 to the backend (or to redirect_to, "host:port");
    fail_blobs=n: answer n blob requests with fail_status (and Retry-After: retry_after);
    delay={path substring: seconds}: hold matching requests back; hold={path substring:
    threading.Event}: hold matching requests until the test sets the event; tls=(cert, key) and
    name: serve HTTPS under that host name; bind: the address to listen on.
    `requests` records (method, path, headers), `arrivals` (method, path, monotonic time);
    `blob_spans` (path, start, end) of blob GETs served (not redirected)."""

    def __init__(self, backend_port, token=None, throttle=None, cut_after=None, port=None,
                 die_after_cut=False, redirect_blobs=False, fail_blobs=0, fail_status=503,
                 retry_after=None, redirect_to=None, delay=None, hold=None, tls=None,
                 name="127.0.0.1", bind="127.0.0.1"):
        self.backend_port = backend_port
        self.redirect_blobs = redirect_blobs
        self.redirect_to = redirect_to or f"127.0.0.1:{backend_port}"
        self.retry_after = retry_after
        self.delay = delay or {}
        self.hold = hold or {}
        self.tls = tls
        self.name = name
        self.bind = bind
        self.blob_spans = []
        self.arrivals = []
        self.fail_blobs = fail_blobs  # answer this many blob requests with fail_status
        self.fail_status = fail_status
        self.die_after_cut = die_after_cut
        self.cuts = 0
        self.token_creds = token
        self.throttle = throttle
        self.cut_after = cut_after
        self.tokens = set()
        self.requests = []  # (method, path, headers) as seen
        self.port = port or free_port()
        self.server = None

    @property
    def host(self):
        return f"{self.name}:{self.port}"

    def start(self):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_HEAD(self):
                self.handle_any("HEAD")

            def do_GET(self):
                self.handle_any("GET")

            def deny(self, code, headers=None):
                body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}).encode()
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def serve_token(self):
                if isinstance(proxy.token_creds, tuple):
                    want = "Basic " + base64.b64encode(
                        ("%s:%s" % proxy.token_creds).encode()).decode()
                    if self.headers.get("Authorization") != want:
                        return self.deny(401, {"WWW-Authenticate": 'Basic realm="token"'})
                tok = secrets.token_hex(16)
                proxy.tokens.add(tok)
                body = json.dumps({"token": tok, "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def handle_any(self, method):
                proxy.requests.append((method, self.path, dict(self.headers)))
                proxy.arrivals.append((method, self.path, time.monotonic()))
                for part, secs in proxy.delay.items():
                    if part in self.path:
                        time.sleep(secs)
                for part, event in proxy.hold.items():
                    if part in self.path:
                        event.wait(300)  # bounded: a test that fails still ends
                if method == "GET" and "/blobs/" in self.path and not proxy.redirect_blobs:
                    start = self.last_write = time.monotonic()
                    try:
                        return self.handle_request(method)
                    finally:
                        # ends as its last bytes go out (not after the throttle's pause)
                        proxy.blob_spans.append((self.path, start, self.last_write))
                return self.handle_request(method)

            def handle_request(self, method):
                if self.path.startswith("/token"):
                    return self.serve_token()
                if proxy.token_creds:
                    auth = self.headers.get("Authorization", "")
                    if not (auth.startswith("Bearer ") and auth[7:] in proxy.tokens):
                        realm = f"{'https' if proxy.tls else 'http'}://{proxy.host}/token"
                        return self.deny(401, {"WWW-Authenticate":
                                               f'Bearer realm="{realm}",service="stack-test"'})
                if "/blobs/" in self.path and proxy.fail_blobs > 0:
                    proxy.fail_blobs -= 1
                    extra = {"Retry-After": str(proxy.retry_after)} if proxy.retry_after else None
                    return self.deny(proxy.fail_status, extra)
                if "/blobs/" in self.path and proxy.redirect_blobs:
                    self.send_response(307)
                    self.send_header("Location", f"http://{proxy.redirect_to}{self.path}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                conn = http.client.HTTPConnection("127.0.0.1", proxy.backend_port, timeout=60)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("authorization", "host", "connection")}
                try:
                    conn.request(method, self.path, headers=headers)
                    resp = conn.getresponse()
                except OSError:
                    return self.deny(502)
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.end_headers()
                if method == "HEAD":
                    conn.close()
                    return
                is_blob = "/blobs/" in self.path
                sent = 0
                while True:
                    chunk = resp.read(16384)
                    if not chunk:
                        break
                    if is_blob and proxy.cut_after is not None and sent + len(chunk) > proxy.cut_after:
                        chunk = chunk[:max(0, proxy.cut_after - sent)]
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        self.close_connection = True
                        conn.close()
                        self.connection.shutdown(socket.SHUT_RDWR)
                        proxy.cuts += 1
                        if proxy.die_after_cut:
                            # the registry "goes away": nothing listens on the port any more
                            srv = proxy.server
                            threading.Thread(target=lambda: (srv.shutdown(), srv.server_close()),
                                             daemon=True).start()
                        return
                    self.last_write = time.monotonic()  # before: the client cannot be done sooner
                    self.wfile.write(chunk)
                    sent += len(chunk)
                    if is_blob and proxy.throttle:
                        time.sleep(len(chunk) / proxy.throttle)
                conn.close()

        self.server = http.server.ThreadingHTTPServer((self.bind, self.port), Handler)
        self.server.daemon_threads = True
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(self.tls[0]), str(self.tls[1]))
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def blob_gets(self, digest):
        """GET requests for a blob, in any repository."""
        return [h for m, path, h in self.requests if m == "GET" and path.endswith("/blobs/" + digest)]

    def max_overlap(self, digests):
        """The most downloads of these blobs that were in progress at once."""
        edges = sorted((t, kind) for path, start, end in self.blob_spans
                       if path.rsplit("/", 1)[-1] in digests
                       for t, kind in ((start, 1), (end, -1)))
        now = most = 0
        for _, kind in edges:
            now += kind
            most = max(most, now)
        return most

    def saw_range(self):
        return any("Range" in h for _, path, h in self.requests if "/blobs/" in path)
