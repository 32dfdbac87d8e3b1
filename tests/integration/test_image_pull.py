"""stack pull and stack images against a real registry on loopback."""
import json
import os


def images_json(stack, root):
    r = stack("--root", str(root), "images", "--format", "json")
    assert r.code == 0, r
    return json.loads(r.out)


def test_pull_busybox_then_images_lists_it(stack, registry, root):
    ref = registry.ref("busybox")
    r = stack("--root", str(root), "pull", ref)
    assert r.code == 0, r
    assert "Digest: sha256:" in r.err
    imgs = images_json(stack, root)
    assert [(i["Repository"], i["Tag"]) for i in imgs] == [(f"{registry.host}/busybox", "latest")]
    assert imgs[0]["Size"] > 1_000_000
    r = stack("--root", str(root), "images")
    assert r.code == 0, r
    assert f"{registry.host}/busybox" in r.out and "latest" in r.out


def test_pulled_layer_is_unpacked_with_links_and_modes(stack, registry, root):
    r = stack("--root", str(root), "pull", "-q", registry.ref("busybox"))
    assert r.code == 0, r
    assert r.out.strip() == registry.ref("busybox")
    layers = list((root / "images/layers/sha256").iterdir())
    trees = [p for p in layers if p.is_dir()]
    assert len(trees) == 1
    bb = trees[0] / "bin/busybox"
    assert os.access(bb, os.X_OK)
    assert os.readlink(trees[0] / "bin/sh") == "busybox"
    assert oct((trees[0] / "tmp").stat().st_mode & 0o7777) == "0o1777"


def test_second_pull_reuses_layers(stack, registry, root):
    assert stack("--root", str(root), "pull", registry.ref("busybox")).code == 0
    r = stack("--root", str(root), "pull", registry.ref("busybox"))
    assert r.code == 0, r
    assert "Already exists" in r.err


def test_stack_root_env_sets_the_store(stack, registry, root):
    r = stack("pull", "-q", registry.ref("busybox"), env={"STACK_ROOT": str(root)})
    assert r.code == 0, r
    assert (root / "images/refs.json").exists()


def test_pull_unknown_tag_names_image_and_cause(stack, registry, root):
    ref = registry.ref("busybox", "nope")
    r = stack("--root", str(root), "pull", ref)
    assert r.code == 1
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r
    assert ref in lines[0] and "manifest unknown" in lines[0]
    assert images_json(stack, root) == []


def test_pull_unknown_repository(stack, registry, root):
    r = stack("--root", str(root), "pull", registry.ref("nosuchimage"))
    assert r.code == 1
    assert "nosuchimage" in r.err
    assert "not found" in r.err or "unknown" in r.err.lower(), r


def test_pull_unreachable_registry(stack, root):
    from registry import free_port
    ref = f"127.0.0.1:{free_port()}/busybox"
    r = stack("--root", str(root), "pull", "-q", ref)
    assert r.code == 1
    assert ref in r.err and "unreachable" in r.err, r


def test_pull_invalid_reference_is_refused(stack, root):
    r = stack("--root", str(root), "pull", "Busy:Box")
    assert r.code == 1
    assert "Busy:Box: invalid reference format" in r.err, r


def test_postgres_and_redis_images_share_their_base_layer(stack, registry, root):
    registry.ensure("postgres")
    registry.ensure("redis")
    r = stack("--root", str(root), "pull", registry.ref("postgres"))
    assert r.code == 0, r
    r = stack("--root", str(root), "pull", registry.ref("redis"))
    assert r.code == 0, r
    assert "Already exists" in r.err
    for name, files in (("postgres", ["usr/local/bin/docker-entrypoint.sh", "usr/bin/pg_isready",
                                      "usr/lib/postgresql/15/bin/postgres"]),
                        ("redis", ["usr/bin/redis-server", "usr/bin/redis-cli"])):
        r = stack("--root", str(root), "image", "inspect", registry.ref(name))
        assert r.code == 0, r
        [doc] = json.loads(r.out)
        assert len(doc["LayerPaths"]) == 2
        for f in files:
            assert any(os.path.lexists(os.path.join(p, f)) for p in doc["LayerPaths"]), f
    [pg] = json.loads(stack("--root", str(root), "image", "inspect", registry.ref("postgres")).out)
    assert pg["Config"]["Entrypoint"] == ["docker-entrypoint.sh"]
    assert pg["Config"]["Cmd"] == ["postgres"]


def test_docker_manifest_list_and_schema2_are_negotiated(stack, registry, root):
    """A Docker manifest list with an arm64 decoy and a Docker schema2 manifest for amd64."""
    from registry import put_manifest
    layout = registry.images.layout("busybox")
    index = json.loads((layout / "index.json").read_text())
    oci = json.loads((layout / "blobs/sha256" / index["manifests"][0]["digest"][7:]).read_bytes())
    registry.ensure("busybox", repo="dockerfmt")  # the blobs, under this repository
    m = {"schemaVersion": 2,
         "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                    "digest": oci["config"]["digest"], "size": oci["config"]["size"]},
         "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                     "digest": l["digest"], "size": l["size"]} for l in oci["layers"]]}
    body = json.dumps(m).encode()
    import hashlib
    md = "sha256:" + hashlib.sha256(body).hexdigest()
    base = f"http://{registry.host}"
    put_manifest(base, "dockerfmt", md, body, m["mediaType"])
    lst = {"schemaVersion": 2,
           "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
           "manifests": [
               {"mediaType": m["mediaType"], "digest": md, "size": len(body),
                "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
               {"mediaType": m["mediaType"], "digest": md, "size": len(body),
                "platform": {"os": "linux", "architecture": "amd64"}}]}
    put_manifest(base, "dockerfmt", "list", json.dumps(lst).encode(), lst["mediaType"])
    r = stack("--root", str(root), "pull", "-q", registry.ref("dockerfmt", "list"))
    assert r.code == 0, r
    [doc] = json.loads(stack("--root", str(root), "image", "inspect",
                             registry.ref("dockerfmt", "list")).out)
    assert doc["ManifestDigest"] == md
    r = stack("--root", str(root), "pull", "-q", f"{registry.host}/dockerfmt@{md}")
    assert r.code == 0, r


def run_on_terminal(args):
    """Runs stack with stderr on a pseudo-terminal; returns (exit code, what it drew)."""
    import pty
    import subprocess
    from conftest import STACK
    master, slave = pty.openpty()
    p = subprocess.Popen([STACK, *args], stdout=subprocess.DEVNULL, stderr=slave,
                         env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return p.wait(timeout=120), out.decode(errors="replace")


def test_progress_bars_on_a_terminal_lines_otherwise(stack, registry, root, tmp_path):
    from registry import Proxy
    layout = registry.images.layout("busybox")
    index = json.loads((layout / "index.json").read_text())
    m = json.loads((layout / "blobs/sha256" / index["manifests"][0]["digest"][7:]).read_bytes())
    size = m["layers"][0]["size"]
    proxy = Proxy(registry.port, throttle=size / 1.5).start()
    ref = f"{proxy.host}/busybox:latest"
    try:
        code, drawn = run_on_terminal(["--root", str(root), "pull", ref])
        assert code == 0, drawn
        # rows redrawn in place: cursor up, erase line; a bar with bytes and speed
        assert "\x1b[" in drawn and "\x1b[2K" in drawn
        assert "Downloading [" in drawn and "/s" in drawn, drawn
        assert f"{ref}: Digest: sha256:" in drawn
        other = tmp_path / "other"
        other.mkdir()
        r = stack("--root", str(other), "pull", ref)
        assert r.code == 0, r
        assert "\x1b" not in r.err and "Downloading [" not in r.err
        lines = r.err.splitlines()
        short = m["layers"][0]["digest"][7:19]
        for event in ("Waiting", "Verifying Checksum: ok", "Extracting", "Pull complete"):
            assert f"{short}: {event}" in lines, r.err
        r = stack("--root", str(tmp_path / "third"), "pull", "-q", ref)
        assert r.code == 0 and r.err == "" and r.out == ref + "\n", r
    finally:
        proxy.stop()
