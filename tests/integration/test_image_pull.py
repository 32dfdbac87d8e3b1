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
    assert "invalid reference format" in r.err


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
