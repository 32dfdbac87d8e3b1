"""The stat cache of COPY sources (src/build/statcache.c): a context file whose size,
mtime, ctime, inode, device and mode are those recorded (and recorded after its last
change) is not read again; its recorded digest is used. Anything else is hashed, so the
step cache still goes by content."""
import hashlib
import json
import os

from build_helpers import builder  # noqa: F401

# an entry: [size, mtime ns, ctime ns, inode, device, mode, recorded at ns, digest]
AT, DIGEST = 6, 7

DOCKERFILE = "FROM @BASE@\nCOPY app /app\nCMD [\"cat\", \"/app/a.txt\"]\n"


def statcache(b):
    files = list((b.root / "build/statcache").glob("*.json"))
    assert len(files) == 1, files
    return files[0]


def entries(b):
    return json.loads(statcache(b).read_text())


def copy_cached(r):
    """Did the COPY step (step 2) come from the step cache?"""
    assert r.code == 0, r
    step = r.out.split("Step 2/")[1].split("Step 3/")[0]
    return "Using cache" in step


def built_twice(b):
    """Built, and built again: the second build recorded every entry well after the
    files were written (the first may have recorded them in the same clock tick)."""
    b.write("app/a.txt", "v1\n")
    b.write("app/sub/b.txt", "bee\n")
    b.dockerfile(DOCKERFILE)
    first = b.build()
    assert first.code == 0, first
    again = b.build()
    assert copy_cached(again), again


def test_unchanged_rebuild_takes_the_recorded_digest_without_reading_the_file(builder):
    built_twice(builder)
    e = entries(builder)
    assert e["app/a.txt"][DIGEST] == hashlib.sha256(b"v1\n").hexdigest()
    assert e["app/sub/b.txt"][DIGEST] == hashlib.sha256(b"bee\n").hexdigest()
    # a wrong digest in the cache is believed while the stat is unchanged: the file is
    # not read, so the COPY's key changes
    e["app/a.txt"][DIGEST] = hashlib.sha256(b"something else\n").hexdigest()
    statcache(builder).write_text(json.dumps(e))
    assert not copy_cached(builder.build())


def test_one_byte_change_with_the_old_mtime_restored_misses(builder):
    built_twice(builder)
    p = builder.ctx / "app/a.txt"
    st = os.stat(p)
    p.write_text("v2\n")  # same size
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(p).st_mtime_ns == st.st_mtime_ns
    r = builder.build()
    assert not copy_cached(r), r
    assert builder.run().out == "v2\n"
    assert entries(builder)["app/a.txt"][DIGEST] == hashlib.sha256(b"v2\n").hexdigest()


def test_same_content_rewrite_is_hashed_again_and_hits(builder):
    built_twice(builder)
    p = builder.ctx / "app/a.txt"
    before = entries(builder)["app/a.txt"]
    p.write_text("v1\n")
    r = builder.build()
    assert copy_cached(r), r
    after = entries(builder)["app/a.txt"]
    assert after[2] == os.stat(p).st_ctime_ns != before[2]  # recorded again
    assert after[DIGEST] == before[DIGEST]


def test_an_entry_recorded_before_the_file_changed_is_hashed_again(builder):
    built_twice(builder)
    e = entries(builder)
    # racily clean: recorded at the file's own mtime, so a change in that same clock
    # tick could hide behind equal stat fields; the wrong digest must not be used
    e["app/a.txt"][AT] = e["app/a.txt"][1]
    e["app/a.txt"][DIGEST] = hashlib.sha256(b"something else\n").hexdigest()
    statcache(builder).write_text(json.dumps(e))
    assert copy_cached(builder.build())
    assert entries(builder)["app/a.txt"][DIGEST] == hashlib.sha256(b"v1\n").hexdigest()


def test_corrupted_or_missing_stat_cache_falls_back_to_hashing(builder):
    built_twice(builder)
    path = statcache(builder)
    for garbage in ["{\"app/a.txt\": [1, 2", "[1, 2, 3]", "{\"app/a.txt\": \"x\"}",
                    "{\"app/a.txt\": [1, 2, 3, 4, 5, 6, 7, 8]}", ""]:
        path.write_text(garbage)
        r = builder.build()
        assert copy_cached(r), (garbage, r)
        assert r.err == "" or "statcache" not in r.err
        assert entries(builder)["app/a.txt"][DIGEST] == hashlib.sha256(b"v1\n").hexdigest()
    path.unlink()
    builder.write("app/a.txt", "v3\n")
    r = builder.build()
    assert not copy_cached(r), r
    assert builder.run().out == "v3\n"
    assert entries(builder)["app/a.txt"][DIGEST] == hashlib.sha256(b"v3\n").hexdigest()


def test_no_change_rebuild_rewrites_nothing_in_the_image_store(builder):
    built_twice(builder)
    images = builder.root / "images"
    files = [images / "refs.json", *(images / "blobs/sha256").iterdir()]
    before = {p: os.stat(p).st_ino for p in files}
    r = builder.build()
    assert copy_cached(r), r
    # a rewrite renames a new file into place: another inode
    assert {p: os.stat(p).st_ino for p in files} == before
    # a new tag still lands in refs.json
    builder.write("compose.yaml", "services:\n  app:\n    build: .\n    image: other:1\n")
    assert builder.build().code == 0
    refs = json.loads((images / "refs.json").read_text())["refs"]
    assert "docker.io/library/other:1" in refs
