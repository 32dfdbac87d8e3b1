"""Layers as other tools write them. Member names are relative to the layer root however
they are spelled ("/", "./", "/bin/sh", "./bin/sh"), the root entry's mode and owner are
the layer root's, and only what would resolve outside the root is refused: through "..",
a symlink, a hardlink, or a whiteout named through one of them."""
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import uuid

import pytest

from engine_helpers import engine, needs_busybox, needs_root  # noqa: F401
from image_fixtures import assert_store_clean, layer_tar, push_layer_image, stored_images as images

needs_umoci = pytest.mark.skipif(not shutil.which("umoci"), reason="umoci is not installed")


def inspect(stack, root, ref):
    r = stack("--root", str(root), "image", "inspect", ref)
    assert r.code == 0, r
    [doc] = json.loads(r.out)
    return doc


def layer_dir(root, tar):
    return root / "images/layers/sha256" / hashlib.sha256(tar).hexdigest()


def tree(top):
    """{relative path: (kind, mode, uid, gid, content or link target)} under top."""
    out = {}
    for dirpath, dirs, files in os.walk(top):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, top)
            if os.path.islink(p):
                out[rel] = ("link", None, st.st_uid, st.st_gid, os.readlink(p))
            elif os.path.isdir(p):
                out[rel] = ("dir", st.st_mode & 0o7777, st.st_uid, st.st_gid, None)
            else:
                out[rel] = ("file", st.st_mode & 0o7777, st.st_uid, st.st_gid,
                            open(p, "rb").read())
    return out


# ---- an image built by umoci ----------------------------------------------------------

def umoci(*args, cwd):
    subprocess.run(["umoci", *args], cwd=cwd, check=True, capture_output=True, text=True)


def umoci_busybox(tmp_path):
    """`umoci new` + `umoci insert` of busybox-static at "/" (its layer starts with the
    root entry "/", mode 0751 here, and umoci 0.4 leaves out the tar's end blocks), a
    second insert of one file, and `umoci config` for the entrypoint. Returns the
    layout directory."""
    src = tmp_path / "umoci-src"
    (src / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", src / "bin/busybox")
    os.symlink("busybox", src / "bin/sh")
    os.chmod(src, 0o751)
    greeting = tmp_path / "greeting"
    greeting.write_text("hello from umoci\n")
    umoci("init", "--layout", "oci", cwd=tmp_path)
    umoci("new", "--image", "oci:bb", cwd=tmp_path)
    umoci("insert", "--image", "oci:bb", str(src), "/", cwd=tmp_path)
    umoci("insert", "--image", "oci:bb", str(greeting), "/etc/greeting", cwd=tmp_path)
    umoci("config", "--image", "oci:bb", "--config.entrypoint", "/bin/sh",
          "--config.entrypoint", "-c", "--config.cmd", "cat /etc/greeting; echo pid $$", cwd=tmp_path)
    return tmp_path / "oci"


def umoci_layers(layout):
    """The uncompressed layer tars of the layout's image, lowest first."""
    def blob(digest):
        return (layout / "blobs/sha256" / digest.split(":", 1)[1]).read_bytes()
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads(blob(index["manifests"][0]["digest"]))
    return [gzip.decompress(blob(layer["digest"])) for layer in manifest["layers"]]


@needs_root
@needs_busybox
@needs_umoci
def test_image_built_by_umoci_pulls_and_runs(stack, registry, root, engine, tmp_path):  # noqa: F811
    layout = umoci_busybox(tmp_path)
    first = umoci_layers(layout)[0]
    # what this test is about: umoci names the root "/" and, in 0.4, ends without end blocks
    assert first[:2] == b"/\0", first[:100]
    assert len(first) % 512 or first[-1024:] != bytes(1024)
    registry.push(layout, "umoci-bb", "latest")
    ref = registry.ref("umoci-bb")
    r = stack("--root", str(root), "pull", "-q", ref)
    assert r.code == 0, r
    assert [i["Repository"] for i in images(stack, root)] == [f"{registry.host}/umoci-bb"]
    doc = inspect(stack, root, ref)
    lower, upper = doc["LayerPaths"]
    # the root entry "/" of umoci's first layer gave that layer's root its mode
    assert os.stat(lower).st_mode & 0o7777 == 0o751
    assert os.readlink(os.path.join(lower, "bin/sh")) == "busybox"
    assert open(os.path.join(upper, "etc/greeting")).read() == "hello from umoci\n"
    argv = doc["Config"]["Entrypoint"] + doc["Config"]["Cmd"]
    r = engine.run(*argv, spec={"layers": [upper, lower]})
    assert r.code == 0, r
    assert r.out.splitlines() == ["hello from umoci", "pid 1"]


# ---- hand-written layers in each tool's convention ----------------------------------

# an xattr to keep, and one a layer may not forge
ROOT_ATTRS = {"mode": 0o750, "uid": 1234, "gid": 5678, "mtime": 1600000000,
              "pax_headers": {"SCHILY.xattr.user.layer": "root entry",
                              "SCHILY.xattr.trusted.overlay.opaque": "y"}}


def convention_layer(prefix, root_name):
    """Nested directories, a file, a symlink and a hardlink, every name (and the hardlink
    target) written with prefix; the root entry, when named, is 0750 1234:5678 with
    xattrs."""
    entries = [(root_name, "dir", None, ROOT_ATTRS)] if root_name else []
    entries += [
        (f"{prefix}usr/", "dir", None),
        (f"{prefix}usr/local/", "dir", None),
        (f"{prefix}usr/local/bin/", "dir", None, {"mode": 0o711}),
        (f"{prefix}usr/local/bin/tool", "file", b"#!/bin/sh\n", {"mode": 0o755, "uid": 7}),
        (f"{prefix}usr/local/bin/alias", "symlink", "tool"),
        (f"{prefix}usr/./local//bin/hard", "hardlink", f"{prefix}usr/local/bin/tool"),
        (f"{prefix}etc/config", "file", b"k=v\n"),
    ]
    return layer_tar(entries)


WANT_TREE = {
    "usr": ("dir", 0o755, 0, 0, None),
    "usr/local": ("dir", 0o755, 0, 0, None),
    "usr/local/bin": ("dir", 0o711, 0, 0, None),
    "usr/local/bin/tool": ("file", 0o755, 7, 0, b"#!/bin/sh\n"),
    "usr/local/bin/alias": ("link", None, 0, 0, "tool"),
    "usr/local/bin/hard": ("file", 0o755, 7, 0, b"#!/bin/sh\n"),
    "etc": ("dir", 0o755, 0, 0, None),
    "etc/config": ("file", 0o644, 0, 0, b"k=v\n"),
}


@needs_root
@pytest.mark.parametrize("prefix,root_name", [
    ("/", "/"),
    ("./", "./"),
    ("", "."),
    ("/", "./"),
    ("", None),
], ids=["umoci-slash", "dot-slash", "bare-with-dot-root", "mixed", "no-root-entry"])
def test_layer_names_in_each_convention_unpack_inside_the_layer(stack, fresh_registry, root, prefix,
                                                                 root_name):
    tar = convention_layer(prefix, root_name)
    ref = push_layer_image(fresh_registry, "conventions", [tar])
    r = stack("--root", str(root), "pull", "-q", ref)
    assert r.code == 0, r
    top = layer_dir(root, tar)
    assert tree(top) == WANT_TREE
    tool, hard = os.stat(top / "usr/local/bin/tool"), os.stat(top / "usr/local/bin/hard")
    assert tool.st_ino == hard.st_ino
    st = os.stat(top)
    if root_name:
        assert (st.st_mode & 0o7777, st.st_uid, st.st_gid, int(st.st_mtime)) == \
            (0o750, 1234, 5678, 1600000000)
        assert os.getxattr(top, "user.layer") == b"root entry"
        assert "trusted.overlay.opaque" not in os.listxattr(top)
    else:
        assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o755, 0, 0)


# ---- what must still be refused -----------------------------------------------------

def escapes(mark):
    """Layers that would write outside their directory (on the host: /etc, /tmp or the
    store) if followed; each leaves a file named mark there."""
    return {
        "dotdot": ([(f"../{mark}", "file", b"x")], f"../{mark}"),
        "rooted-dotdot": ([(f"/../{mark}", "file", b"x")], f"/../{mark}"),
        "nested-dotdot": ([("a/", "dir", None), (f"a/../../{mark}", "file", b"x")], f"a/../../{mark}"),
        "dot-dotdot": ([(f"./../../../{mark}", "file", b"x")], f"./../../../{mark}"),
        "symlink-to-root": ([("l", "symlink", "/"), (f"l/etc/{mark}", "file", b"x")], f"l/etc/{mark}"),
        "symlink-to-parent": ([("l", "symlink", ".."), (f"l/{mark}", "file", b"x")], f"l/{mark}"),
        "symlink-dir-slash": ([("/l", "symlink", "/tmp"), (f"/l/{mark}", "file", b"x")], f"l/{mark}"),
        "hardlink-up": ([("h", "hardlink", f"../{mark}")], f"../{mark}"),
        "hardlink-via-symlink": ([("l", "symlink", "/etc"), ("h", "hardlink", "l/passwd")], "l/passwd"),
        "whiteout-dotdot": ([(f"/../.wh.{mark}", "file", b"")], f"/../.wh.{mark}"),
        "whiteout-via-symlink": ([("l", "symlink", "/tmp"), (f"l/.wh.{mark}", "file", b"")],
                                 f"l/.wh.{mark}"),
        "opaque-via-symlink": ([("l", "symlink", "/tmp"), ("l/.wh..wh..opq", "file", b"")],
                               "l/.wh..wh..opq"),
    }


ESCAPES = list(escapes("x"))


@pytest.mark.parametrize("case", ESCAPES)
def test_layer_entry_resolving_outside_the_layer_is_refused(stack, fresh_registry, root, case):
    mark = f"stack-escape-{uuid.uuid4().hex[:8]}"
    entries, named = escapes(mark)[case]
    tar = layer_tar(entries)
    ref = push_layer_image(fresh_registry, "evil", [tar])
    r = stack("--root", str(root), "pull", "-q", ref)
    assert r.code == 1, r
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r
    blob = "sha256:" + hashlib.sha256(gzip.compress(tar, mtime=0)).hexdigest()
    assert lines[0].startswith(f"stack: pull {ref}: layer {blob[:19]}: "), r
    assert named in lines[0] and "escape" in lines[0], r
    for d in ("/", "/etc", "/tmp", str(root), str(root / "images")):
        assert not os.path.lexists(os.path.join(d, mark))
    assert images(stack, root) == []
    assert_store_clean(root)


# ---- stack load reads names the same way ----------------------------------------------

def docker_save_archive(path, layers, config, tag):
    """A docker-save archive as `tar -C dir -cf path .` writes it: a "./" root entry and
    "./" before every name."""
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": config,
                      "rootfs": {"type": "layers",
                                 "diff_ids": ["sha256:" + hashlib.sha256(t).hexdigest()
                                              for t in layers]}}).encode()
    cid = hashlib.sha256(cfg).hexdigest()
    files = {f"{cid}.json": cfg}
    for i, t in enumerate(layers):
        files[f"l{i}/layer.tar"] = t
    files["manifest.json"] = json.dumps([{"Config": f"{cid}.json", "RepoTags": [tag],
                                          "Layers": [f"l{i}/layer.tar" for i in range(len(layers))]}]).encode()
    with tarfile.open(path, "w") as tf:
        ti = tarfile.TarInfo("./")
        ti.type, ti.mode = tarfile.DIRTYPE, 0o755
        tf.addfile(ti)
        for name, data in files.items():
            ti = tarfile.TarInfo("./" + name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))


@needs_root
def test_load_reads_layer_names_like_a_pull(stack, root, tmp_path):
    tar = convention_layer("/", "/")
    archive = tmp_path / "saved.tar"
    docker_save_archive(archive, [tar], {"Cmd": ["sh"]}, "conventions:saved")
    r = stack("--root", str(root), "load", "-i", str(archive))
    assert r.code == 0, r
    assert "Loaded image: conventions:saved" in r.out
    top = layer_dir(root, tar)
    assert tree(top) == WANT_TREE
    assert os.stat(top).st_mode & 0o7777 == 0o750


def test_load_refuses_an_escaping_layer_and_keeps_nothing(stack, root, tmp_path):
    mark = f"stack-escape-{uuid.uuid4().hex[:8]}"
    tar = layer_tar([(f"/../{mark}", "file", b"x")])
    archive = tmp_path / "evil.tar"
    docker_save_archive(archive, [tar], {}, "evil:saved")
    r = stack("--root", str(root), "load", "-i", str(archive))
    assert r.code == 1, r
    assert len(r.err.strip().splitlines()) == 1, r
    assert f'"/../{mark}" escapes the layer directory' in r.err, r
    assert not os.path.lexists(os.path.join(str(root / "images"), mark))
    assert images(stack, root) == []
    assert_store_clean(root)


def test_load_refuses_an_archive_entry_outside_the_archive(stack, root, tmp_path):
    mark = f"stack-escape-{uuid.uuid4().hex[:8]}"
    archive = tmp_path / "evil.tar"
    docker_save_archive(archive, [layer_tar([("f", "file", b"x")])], {}, "evil:saved")
    with tarfile.open(archive, "a") as tf:
        ti = tarfile.TarInfo(f"./../{mark}")
        ti.size = 1
        tf.addfile(ti, io.BytesIO(b"x"))
    r = stack("--root", str(root), "load", "-i", str(archive))
    assert r.code == 1, r
    assert len(r.err.strip().splitlines()) == 1, r
    assert f'{archive}: entry "./../{mark}" escapes the archive' in r.err, r
    assert not os.path.lexists(root / "images" / mark)
    assert not os.path.lexists(tmp_path / mark)
    assert images(stack, root) == []
    assert list((root / "images/tmp").iterdir()) == []
