"""stack save / stack load: OCI layout archives and docker save archives."""
import gzip
import hashlib
import io
import json
import tarfile


def names(stack, root):
    r = stack("--root", str(root), "images", "--format", "json")
    assert r.code == 0, r
    return sorted(f'{i["Repository"]}:{i["Tag"]}' for i in json.loads(r.out))


def tar_dir(src, dest):
    with tarfile.open(dest, "w") as tf:
        for p in sorted(src.rglob("*")):
            tf.add(p, arcname=str(p.relative_to(src)), recursive=False)


def test_load_oci_layout_archive(stack, test_images, root, tmp_path):
    archive = tmp_path / "bb-oci.tar"
    tar_dir(test_images.layout("busybox"), archive)
    r = stack("--root", str(root), "load", "-i", str(archive))
    assert r.code == 0, r
    assert "Loaded image" in r.out
    assert names(stack, root) == ["<none>:<none>"]
    assert len([p for p in (root / "images/layers/sha256").iterdir() if p.is_dir()]) == 1


def test_save_then_load_round_trip_keeps_names(stack, registry, root, tmp_path):
    ref = registry.ref("busybox")
    assert stack("--root", str(root), "pull", "-q", ref).code == 0
    assert stack("--root", str(root), "tag", ref, "mybox:1").code == 0
    out = tmp_path / "saved.tar"
    r = stack("--root", str(root), "save", "-o", str(out), ref, "mybox:1")
    assert r.code == 0, r
    with tarfile.open(out) as tf:
        members = tf.getnames()
        assert "index.json" in members and "manifest.json" in members and "oci-layout" in members
        dm = json.load(tf.extractfile("manifest.json"))
    assert sorted(t for e in dm for t in e["RepoTags"]) == sorted(["mybox:1", ref])
    other = tmp_path / "other-root"
    other.mkdir()
    r = stack("--root", str(other), "load", "-q", "-i", str(out))
    # -q hides progress, not the names loaded (docker load -q prints them too)
    assert r.code == 0 and "Loaded image: mybox:1" in r.out.splitlines(), r
    assert names(stack, other) == sorted([f"{registry.host}/busybox:latest", "mybox:1"])
    r = stack("--root", str(other), "image", "inspect", "mybox:1")
    assert r.code == 0, r


def test_load_docker_save_archive(stack, test_images, root, tmp_path):
    layout = test_images.layout("busybox")
    index = json.loads((layout / "index.json").read_text())
    m = json.loads((layout / "blobs/sha256" / index["manifests"][0]["digest"][7:]).read_bytes())
    config = (layout / "blobs/sha256" / m["config"]["digest"][7:]).read_bytes()
    layer = gzip.decompress((layout / "blobs/sha256" / m["layers"][0]["digest"][7:]).read_bytes())
    cid = hashlib.sha256(config).hexdigest()
    archive = tmp_path / "docker.tar"
    with tarfile.open(archive, "w") as tf:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
        add(f"{cid}.json", config)
        add("abc123/layer.tar", layer)
        add("manifest.json", json.dumps([{"Config": f"{cid}.json", "RepoTags": ["busybox:saved"],
                                          "Layers": ["abc123/layer.tar"]}]).encode())
    r = stack("--root", str(root), "load", "-i", str(archive))
    assert r.code == 0, r
    assert "Loaded image: busybox:saved" in r.out
    assert names(stack, root) == ["busybox:saved"]
    [doc] = json.loads(stack("--root", str(root), "image", "inspect", "busybox:saved").out)
    assert doc["Id"] == "sha256:" + cid


def test_load_garbage_fails_and_leaves_store_clean(stack, root, tmp_path):
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"not a tar" * 100)
    r = stack("--root", str(root), "load", "-i", str(bad))
    assert r.code == 1
    assert str(bad) in r.err
    assert names(stack, root) == []
    assert list((root / "images/tmp").iterdir()) == []
