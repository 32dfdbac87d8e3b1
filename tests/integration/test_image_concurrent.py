"""Several images at once: `stack pull A B` pulls them together on one loop, under one
limit on layer downloads; a layer two of them share is fetched once and stored once; one
image failing is reported by its name while the others complete. And two `stack pull`
processes pulling the same image at once."""
import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile

import pytest

from conftest import STACK
from registry import Proxy, push_blob, put_manifest


def busybox_parts(reg):
    layout = reg.images.layout("busybox")
    index = json.loads((layout / "index.json").read_text())

    def blob(d):
        return (layout / "blobs/sha256" / d[7:]).read_bytes()

    m = json.loads(blob(index["manifests"][0]["digest"]))
    return m, json.loads(blob(m["config"]["digest"])), blob


def derived_image(reg, repo, content=b"hello\n", on_busybox=True):
    """busybox plus a small layer of its own (or that layer alone), pushed as repo:latest.
    Returns (reference, digest of the busybox layer, digest of the new layer)."""
    reg.ensure("busybox")  # the busybox blobs, in the registry
    m, config, blob = busybox_parts(reg)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        ti = tarfile.TarInfo(f"etc/{repo}.txt")
        ti.size = len(content)
        tf.addfile(ti, io.BytesIO(content))
    tar = buf.getvalue()
    gz = gzip.compress(tar, mtime=0)
    config["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(tar).hexdigest())
    if not on_busybox:
        config["rootfs"]["diff_ids"] = config["rootfs"]["diff_ids"][-1:]
    base = f"http://{reg.host}"
    cfg = json.dumps(config).encode()
    for layer in m["layers"]:
        push_blob(base, repo, blob(layer["digest"]))
    extra = push_blob(base, repo, gz)
    manifest = dict(m, config=dict(m["config"], digest=push_blob(base, repo, cfg), size=len(cfg)),
                    layers=m["layers"] * on_busybox + [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                           "digest": extra, "size": len(gz)}])
    put_manifest(base, repo, "latest", json.dumps(manifest).encode(), m["mediaType"])
    return reg.ref(repo), m["layers"][0]["digest"], extra


def names(stack, root):
    r = stack("--root", str(root), "images", "--format", "json")
    assert r.code == 0, r
    return sorted(f'{i["Repository"]}:{i["Tag"]}' for i in json.loads(r.out))


def layer_trees(root):
    return [p for p in (root / "images/layers/sha256").iterdir() if p.is_dir()]


@pytest.fixture
def shared(fresh_registry):
    """busybox, `derived` (busybox + one small layer) and `solo` (that small layer alone),
    behind a proxy that takes about 1.5 s to serve the busybox layer."""
    reg = fresh_registry
    reg.ensure("busybox")
    ref_b, base, extra = derived_image(reg, "derived")
    # incompressible, so that its download takes a while too
    _, _, solo = derived_image(reg, "solo", content=os.urandom(400_000), on_busybox=False)
    size = reg.blob_path(base).stat().st_size
    proxy = Proxy(reg.port, throttle=size / 1.5).start()
    proxy.solo = solo
    yield proxy, base, extra
    proxy.stop()


def test_images_pulled_together_fetch_a_shared_layer_once(stack, shared, root):
    proxy, base, extra = shared
    a, b = f"{proxy.host}/busybox:latest", f"{proxy.host}/derived:latest"
    r = stack("--root", str(root), "pull", a, b)
    assert r.code == 0, r
    assert names(stack, root) == sorted([a, b])
    assert len(proxy.blob_gets(base)) == 1, proxy.requests
    assert len(proxy.blob_gets(extra)) == 1
    assert len(layer_trees(root)) == 2  # the shared layer is stored once
    # together, not one after the other: derived's manifest was asked for while the
    # busybox layer was still coming
    [(_, _, base_end)] = [(p, s, e) for p, s, e in proxy.blob_spans if p.endswith(base)]
    [t_b] = [t for m, p, t in proxy.arrivals if p == "/v2/derived/manifests/latest"]
    assert t_b < base_end
    # the progress names each image
    assert f"{a}: Digest: sha256:" in r.err and f"{b}: Digest: sha256:" in r.err


@pytest.mark.parametrize("limit", [1, 2])
def test_download_limit_holds_over_all_the_images(stack, shared, root, limit):
    """Two images of one layer each: 2 downloads at once only if the images are pulled
    together, and never more than the limit over both."""
    proxy, base, extra = shared
    a, b = f"{proxy.host}/busybox:latest", f"{proxy.host}/solo:latest"
    r = stack("--root", str(root), "pull", "-q", "--max-concurrent-downloads", str(limit), b, a)
    assert r.code == 0, r
    assert r.out.split() == [b, a]
    assert proxy.max_overlap({base, proxy.solo}) == limit


def test_one_failing_image_is_named_while_the_others_complete(stack, shared, root, fresh_registry):
    proxy, base, extra = shared
    good, bad = f"{proxy.host}/busybox:latest", f"{proxy.host}/derived:nope"
    r = stack("--root", str(root), "pull", "-q", bad, good)
    assert r.code == 1, r
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and bad in lines[0] and "manifest unknown" in lines[0], r
    assert r.out.split() == [good]
    assert names(stack, root) == [good]


def test_failure_of_the_image_fetching_a_shared_layer_does_not_fail_the_other(
        stack, shared, root, fresh_registry):
    """derived's own layer is corrupt; it starts first and takes the shared busybox layer;
    when it fails, busybox's pull fetches that layer itself (from where it stopped)."""
    proxy, base, extra = shared
    path = fresh_registry.blob_path(extra)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    proxy.delay = {"/v2/busybox/manifests/": 0.3}
    good, bad = f"{proxy.host}/busybox:latest", f"{proxy.host}/derived:latest"
    r = stack("--root", str(root), "pull", "-q", bad, good)
    assert r.code == 1, r
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and bad in lines[0] and "digest mismatch" in lines[0], r
    assert names(stack, root) == [good]
    assert len(layer_trees(root)) == 1
    assert list((root / "images/tmp").iterdir()) == []


def test_two_processes_pulling_the_same_image_at_once(stack, shared, root):
    proxy, base, extra = shared
    ref = f"{proxy.host}/derived:latest"
    procs = [subprocess.Popen([STACK, "--root", str(root), "pull", "-q", ref],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert names(stack, root) == [ref]
    assert len(proxy.blob_gets(base)) == 1  # the second waited for the first's layer
    assert len(layer_trees(root)) == 2
    assert list((root / "images/tmp").iterdir()) == []
