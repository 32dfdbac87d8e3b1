"""tag, image rm, image prune, image inspect on a pulled image."""
import json


def pulled(stack, registry, root):
    r = stack("--root", str(root), "pull", "-q", registry.ref("busybox"))
    assert r.code == 0, r
    return registry.ref("busybox")


def names(stack, root):
    r = stack("--root", str(root), "images", "--format", "json")
    assert r.code == 0, r
    return sorted(f'{i["Repository"]}:{i["Tag"]}' for i in json.loads(r.out))


def test_tag_adds_a_name_for_the_same_image(stack, registry, root):
    ref = pulled(stack, registry, root)
    r = stack("--root", str(root), "tag", ref, "mybox:v1")
    assert r.code == 0, r
    assert names(stack, root) == sorted([ref, "mybox:v1"])
    ids = {i["ID"] for i in json.loads(stack("--root", str(root), "images", "--format", "json").out)}
    assert len(ids) == 1


def test_tag_unknown_source_fails(stack, root):
    r = stack("--root", str(root), "tag", "nothere", "x:y")
    assert r.code == 1 and "No such image: nothere" in r.err, r


def test_rm_untags_then_deletes_and_frees_layers(stack, registry, root):
    ref = pulled(stack, registry, root)
    assert stack("--root", str(root), "tag", ref, "mybox:v1").code == 0
    r = stack("--root", str(root), "image", "rm", "mybox:v1")
    assert r.code == 0, r
    assert "Untagged: docker.io/library/mybox:v1" in r.out
    assert names(stack, root) == [ref]
    r = stack("--root", str(root), "rmi", ref)
    assert r.code == 0, r
    assert "Deleted: sha256:" in r.out
    assert names(stack, root) == []
    assert list((root / "images/layers/sha256").iterdir()) == []
    assert list((root / "images/blobs/sha256").iterdir()) == []


def test_rm_unknown_image(stack, root):
    r = stack("--root", str(root), "image", "rm", "ghost")
    assert r.code == 1 and "No such image: ghost" in r.err


def test_rm_by_id_prefix(stack, registry, root):
    pulled(stack, registry, root)
    img = json.loads(stack("--root", str(root), "images", "--format", "json").out)[0]
    r = stack("--root", str(root), "image", "rm", img["ID"][7:19])
    assert r.code == 0, r
    assert names(stack, root) == []


def test_prune_all_removes_unused_images(stack, registry, root):
    pulled(stack, registry, root)
    r = stack("--root", str(root), "image", "prune", "-a", "-f")
    assert r.code == 0, r
    assert "Total reclaimed space" in r.out
    assert names(stack, root) == []
    assert list((root / "images/layers/sha256").iterdir()) == []


def test_prune_keeps_tagged_images(stack, registry, root):
    ref = pulled(stack, registry, root)
    r = stack("--root", str(root), "image", "prune", "-f")
    assert r.code == 0, r
    assert names(stack, root) == [ref]


def test_inspect_shows_config_and_layers(stack, registry, root):
    ref = pulled(stack, registry, root)
    r = stack("--root", str(root), "image", "inspect", ref)
    assert r.code == 0, r
    [doc] = json.loads(r.out)
    assert doc["Id"].startswith("sha256:")
    assert doc["RepoTags"] == [ref]
    assert doc["Config"]["Cmd"] == ["sh"]
    assert doc["Os"] == "linux"
    assert len(doc["LayerPaths"]) == len(doc["RootFS"]["diff_ids"]) == 1


def test_inspect_unknown(stack, root):
    r = stack("--root", str(root), "image", "inspect", "ghost")
    assert r.code == 1 and "No such image: ghost" in r.err
