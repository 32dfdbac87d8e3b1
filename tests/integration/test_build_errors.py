"""stack build: failures are reported with service, step and cause, and leave no
container, mount, layer or image behind; nothing outside the context can be copied."""
import json
import os

from build_helpers import builder, store_image  # noqa: F401


def layer_dirs(root):
    d = root / "images/layers/sha256"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def refs(root):
    f = root / "images/refs.json"
    return json.loads(f.read_text())["refs"] if f.exists() else {}


def test_failing_run_reports_step_exit_code_and_last_output(builder):
    builder.dockerfile("""
FROM @BASE@
RUN echo kept > /kept
RUN echo line-one; echo line-two >&2; touch /half-written; exit 2
CMD ["true"]
""")
    r = builder.build()
    assert r.code == 1, r
    first = r.err.splitlines()[0]
    assert first == ("stack: app: step 3/4: RUN echo line-one; echo line-two >&2; "
                     "touch /half-written; exit 2: exit 2"), r
    assert "line-one" in r.err and "line-two" in r.err
    assert "line-one" in r.out  # the output was shown as it came
    # no image under the project's name, and only the committed layers exist
    assert not any("proj-app" in k for k in refs(builder.root))
    trees = [n for n in layer_dirs(builder.root) if (builder.root / "images/layers/sha256" / n).is_dir()]
    assert len(trees) == 2  # busybox and the first RUN's layer: nothing of the failed step
    for name in layer_dirs(builder.root):
        tree = builder.root / "images/layers/sha256" / name
        if tree.is_dir():
            assert not (tree / "half-written").exists()


def test_copy_of_parent_path_stays_inside_the_context(builder):
    (builder.tmp / "secret").write_text("outside\n")
    builder.dockerfile("FROM @BASE@\nCOPY ../secret /stolen\n")
    r = builder.build()
    assert r.code == 1, r
    assert "step 2/2: COPY ../secret /stolen" in r.err and "not found" in r.err, r


def test_symlink_in_context_is_resolved_inside_it(builder):
    (builder.tmp / "secret").write_text("outside\n")
    os.symlink("../secret", builder.ctx / "rel-link")
    os.symlink(str(builder.tmp / "secret"), builder.ctx / "abs-link")
    for link in ("rel-link", "abs-link"):
        builder.dockerfile(f"FROM @BASE@\nCOPY {link} /stolen\n")
        r = builder.build()
        assert r.code == 1, r
        assert "not found" in r.err, r


def test_symlink_inside_a_copied_directory_is_copied_as_a_link(builder):
    (builder.tmp / "secret").write_text("outside\n")
    builder.write("dir/file", "inside\n")
    os.symlink(str(builder.tmp / "secret"), builder.ctx / "dir/link")
    builder.dockerfile("FROM @BASE@\nCOPY dir /d/\nCMD [\"sh\", \"-c\", \"readlink /d/link; cat /d/link || echo unreadable\"]\n")
    r = builder.build()
    assert r.code == 0, r
    run = builder.run(spec={"user": "0"})
    assert run.out.splitlines() == [str(builder.tmp / "secret"), "unreadable"], run


def test_dockerfile_syntax_error_names_file_and_line(builder):
    builder.dockerfile("FROM @BASE@\nFOO bar\n")
    r = builder.build()
    assert r.code == 1
    assert r.err.strip() == "stack: app: Dockerfile:2: unknown instruction: FOO", r
    assert refs(builder.root) == {}


def test_unknown_target_is_an_error(builder):
    builder.dockerfile("FROM @BASE@ AS a\n",
                       compose="services:\n  app:\n    build:\n      context: .\n      target: nope\n")
    r = builder.build()
    assert r.code == 1
    assert 'target stage "nope" could not be found' in r.err, r


def test_remote_context_is_not_supported(builder):
    builder.dockerfile("FROM @BASE@\n", compose="services:\n  app:\n    build: https://github.com/example/app.git\n")
    r = builder.build()
    assert r.code == 1
    assert "git repositories and remote contexts are not supported" in r.err, r
    assert refs(builder.root) == {}


def test_missing_base_image_names_it(builder):
    builder.dockerfile(f"FROM {builder.registry.ref('does-not-exist')}\n")
    r = builder.build()
    assert r.code == 1
    assert "step 1/1: FROM" in r.err and "does-not-exist" in r.err, r


def test_glob_matching_nothing_is_an_error(builder):
    builder.dockerfile("FROM @BASE@\nCOPY *.nothing /x/\n")
    r = builder.build()
    assert r.code == 1
    assert "no source files were specified" in r.err, r


def test_run_on_scratch_without_a_shell_fails_clearly(builder):
    builder.base = None
    builder.dockerfile("FROM scratch\nRUN true\n")
    r = builder.build()
    assert r.code == 1
    assert "step 2/2: RUN true" in r.err and "scratch" in r.err, r


def test_run_mount_bind_source_cannot_leave_the_context(builder):
    (builder.tmp / "secret").write_text("outside\n")
    builder.dockerfile("FROM @BASE@\nRUN --mount=type=bind,source=../..,target=/mnt ls /mnt > /listing\n"
                       "CMD [\"cat\", \"/listing\"]\n")
    r = builder.build()
    assert r.code == 0, r
    listing = builder.run().out.split()
    assert "Dockerfile" in listing and "secret" not in listing


def test_unsupported_run_mount_type_is_an_error(builder):
    builder.dockerfile("FROM @BASE@\nRUN --mount=type=volume,target=/s true\n")
    r = builder.build()
    assert r.code == 1
    assert "step 2/2: RUN --mount=type=volume" in r.err and "not supported" in r.err, r


def test_interrupt_stops_the_running_step_and_leaves_nothing(builder):
    import signal

    builder.dockerfile("FROM @BASE@\nRUN echo started; sleep 600\n")
    p = builder.start_build()
    builder.running_run_containers("sleep")
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, (out, err)
    assert "step 2/2: RUN echo started; sleep 600: interrupted" in err, err


def test_unknown_service_is_an_error(builder):
    builder.dockerfile("FROM @BASE@\n")
    r = builder.build("nosuch")
    assert r.code == 1
    assert r.err.strip() == "stack: no such service: nosuch", r


def test_invalid_compose_file_fails_with_exit_1(builder):
    builder.dockerfile("FROM @BASE@\n", compose="services:\n  app:\n    build: .\n    image: [oops\n")
    r = builder.build()
    assert r.code == 1, r
    assert "compose.yaml:" in r.err, r
