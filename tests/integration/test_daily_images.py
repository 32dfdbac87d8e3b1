"""`stack images` in a project lists its containers' images as `docker compose images`;
outside one (no compose file found) it lists the store, as `stack image ls` always does."""
import json
import re

from conftest import run_stack
from engine_helpers import needs_root
from netlib import needs_root as needs_netns
from uplib import project  # noqa: F401 (fixture)

pytestmark = [needs_root, needs_netns]


def test_images_lists_the_projects_containers_and_their_images(project, tmp_path):
    project.write("""
services:
  web:
    image: BUSYBOX
    stop_signal: SIGKILL
    command: ["sleep", "1000"]
  job:
    image: BUSYBOX
    command: ["true"]
""")
    project.ok("up", "-d")
    [store] = json.loads(project.ok("image", "ls", "--format", "json").out)
    repo, tag = project.image.rsplit(":", 1)
    out = project.ok("images").out.splitlines()
    assert re.split(r"\s{3,}", out[0]) == ["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"]
    rows = [re.split(r"\s{3,}", line) for line in out[1:]]
    size = run_stack("--root", str(project.root), "image", "ls").out.splitlines()[1].split()[-1]
    short = store["ID"].split(":")[1][:12]
    # Every container, stopped ones too, in name order.
    assert rows == [[f"{project.name}-job-1", repo, tag, short, size],
                    [f"{project.name}-web-1", repo, tag, short, size]], out
    js = json.loads(project.ok("images", "--format", "json", "web").out)
    assert js == [{"ID": store["ID"], "ContainerName": f"{project.name}-web-1",
                   "Repository": repo, "Tag": tag, "Size": store["Size"]}]
    assert project.ok("images", "-q").out.splitlines() == [store["ID"]]
    r = project("images", "nope")
    assert r.code == 1 and "no such service: nope" in r.err, r
    # No compose file anywhere up from the working directory: the store, as docker images.
    r = run_stack("--root", str(project.root), "images", cwd=str(tmp_path))
    assert r.code == 0 and r.out.split()[:2] == ["REPOSITORY", "TAG"], r
