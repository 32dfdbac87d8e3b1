"""stack build: Dockerfile instructions executed on the engine, the result run from the
store with `stack runtime run`."""
import io
import os
import json
import subprocess
import tarfile

from build_helpers import builder, store_image  # noqa: F401
from conftest import STACK


def test_run_copy_env_workdir_user_and_cmd_reach_the_image(builder):
    builder.write("hello.txt", "hi from the context\n")
    builder.dockerfile("""
FROM @BASE@
ENV GREETING=hello WHO="the world"
WORKDIR /app
COPY hello.txt ./
RUN echo "$GREETING $WHO" > greeting && echo 'app:x:1234:1234::/app:/bin/sh' >> /etc/passwd
USER app
RUN id -u > /tmp/uid-in-run && pwd >> /tmp/uid-in-run
CMD ["sh", "-c", "cat /app/greeting /app/hello.txt /tmp/uid-in-run"]
""")
    r = builder.build()
    assert r.code == 0, r
    assert "Step 8/8 : CMD" in r.out
    assert builder.config()["config"]["User"] == "app"
    # run as root: the engine's upper directory is 0700 (see docs/build-images.md)
    run = builder.run(spec={"user": "0"})
    assert run.code == 0, run
    assert run.out.splitlines() == ["hello the world", "hi from the context", "1234", "/app"], run


def test_metadata_instructions_fill_the_image_config(builder):
    builder.dockerfile("""
FROM @BASE@
LABEL org.example.team="build team" version=1
EXPOSE 8080 53/udp
VOLUME /data
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=5s --retries=4 CMD wget -q -O- http://localhost/ || exit 1
ENTRYPOINT ["echo", "entry"]
SHELL ["/bin/sh", "-ec"]
ONBUILD RUN echo child
""")
    r = builder.build()
    assert r.code == 0, r
    c = builder.config()["config"]
    assert c["Labels"] == {"org.example.team": "build team", "version": "1"}
    assert c["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
    assert c["Volumes"] == {"/data": {}}
    assert c["StopSignal"] == "SIGQUIT"
    assert c["Healthcheck"]["Test"] == ["CMD-SHELL", "wget -q -O- http://localhost/ || exit 1"]
    assert c["Healthcheck"]["Interval"] == 5_000_000_000 and c["Healthcheck"]["Retries"] == 4
    assert c["Entrypoint"] == ["echo", "entry"]
    assert "Cmd" not in c  # an ENTRYPOINT drops the base image's CMD
    assert c["Shell"] == ["/bin/sh", "-ec"]
    assert c["OnBuild"] == ["RUN echo child"]
    history = builder.config()["history"]
    assert history[-1]["created_by"] == "ONBUILD RUN echo child"
    assert builder.run(cmd=["hello"]).out == "entry hello\n"


def test_run_deletion_becomes_a_whiteout(builder):
    builder.dockerfile("""
FROM @BASE@
RUN mkdir -p /opt/d && echo x > /opt/d/f && echo y > /opt/keep
RUN rm /opt/d/f && rm -f /bin/vi
CMD ["sh", "-c", "ls /opt/d; cat /opt/keep; test -e /bin/vi && echo vi-present || echo vi-gone"]
""")
    r = builder.build()
    assert r.code == 0, r
    run = builder.run()
    assert run.code == 0, run
    assert run.out.splitlines() == ["y", "vi-gone"]


def test_multi_stage_copy_from_and_unused_stage_not_built(builder):
    builder.dockerfile("""
FROM @BASE@ AS build
RUN mkdir /out && echo built > /out/artifact
FROM @BASE@ AS unused
RUN exit 1
FROM scratch AS final
COPY --from=build /bin/busybox /bin/busybox
COPY --from=build /out/artifact /artifact
CMD ["/bin/busybox", "cat", "/artifact"]
""")
    r = builder.build()
    assert r.code == 0, r
    assert "RUN exit 1" not in r.out
    run = builder.run()
    assert run.code == 0, run
    assert run.out == "built\n"
    _, layers = store_image(builder.root, "proj-app")
    assert len(layers) == 2


def test_target_stops_at_the_named_stage(builder):
    builder.dockerfile("""
FROM @BASE@ AS dev
CMD ["echo", "dev"]
FROM @BASE@ AS prod
CMD ["echo", "prod"]
""", compose="services:\n  app:\n    build:\n      context: .\n      target: dev\n")
    r = builder.build()
    assert r.code == 0, r
    assert builder.run().out == "dev\n"


def test_build_args_from_compose_and_flag_and_arg_before_from(builder):
    builder.dockerfile("""
ARG BASE_IMAGE=@BASE@
FROM ${BASE_IMAGE}
ARG FLAVOUR=plain
ARG FROM_COMPOSE
RUN echo "${FLAVOUR:-none} ${FROM_COMPOSE:+set} ${UNSET:-default}" > /args
CMD ["cat", "/args"]
""", compose="services:\n  app:\n    build:\n      context: .\n      args:\n        FROM_COMPOSE: yes\n")
    r = builder.build("--build-arg", "FLAVOUR=spicy")
    assert r.code == 0, r
    assert builder.run().out == "spicy set default\n"
    # ARG values are not kept in the image's environment
    assert not any(e.startswith("FLAVOUR=") for e in builder.config()["config"].get("Env", []))


def test_image_name_from_compose_image_key(builder):
    builder.dockerfile("FROM @BASE@\nCMD [\"echo\", \"named\"]\n",
                       compose="services:\n  app:\n    image: example/named:v1\n    build: .\n")
    r = builder.build()
    assert r.code == 0, r
    assert builder.run("example/named:v1").out == "named\n"


def test_heredocs_for_run_and_copy(builder):
    builder.dockerfile("""
FROM @BASE@
ARG NAME=heredoc
RUN <<EOF
set -e
echo "first $NAME" > /h1
echo second >> /h1
EOF
COPY <<-EOT /etc/h2
	hello ${NAME}
	EOT
RUN cat > /h3 <<'X'
$NOT_EXPANDED
X
CMD ["cat", "/h1", "/etc/h2", "/h3"]
""")
    r = builder.build()
    assert r.code == 0, r
    assert builder.run().out == "first heredoc\nsecond\nhello heredoc\n$NOT_EXPANDED\n"


def test_copy_globs_chown_chmod_and_directories(builder):
    builder.write("a.txt", "a\n")
    builder.write("b.txt", "b\n")
    builder.write("c.md", "c\n")
    builder.write("src/sub/deep.txt", "deep\n")
    builder.write("run.sh", "#!/bin/sh\necho script\n", mode=0o644)
    builder.dockerfile("""
FROM @BASE@
COPY *.txt /texts/
COPY src /app/
COPY --chown=1000:1000 --chmod=0755 run.sh /usr/local/bin/run
CMD ["sh", "-c", "ls /texts; cat /app/sub/deep.txt; stat -c '%u:%g %a' /usr/local/bin/run; run"]
""")
    r = builder.build()
    assert r.code == 0, r
    run = builder.run()
    assert run.out.splitlines() == ["a.txt", "b.txt", "deep", "1000:1000 755", "script"]


def test_add_extracts_a_local_tar(builder):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        data = b"from the archive\n"
        ti = tarfile.TarInfo("pkg/readme")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    builder.write("pkg.tar.gz", buf.getvalue())
    builder.dockerfile("FROM @BASE@\nADD pkg.tar.gz /opt/\nCMD [\"cat\", \"/opt/pkg/readme\"]\n")
    r = builder.build()
    assert r.code == 0, r
    assert builder.run().out == "from the archive\n"


def test_dockerignore_with_exceptions(builder):
    builder.write("keep.txt", "keep\n")
    builder.write("secret.env", "x\n")
    builder.write("logs/a.log", "a\n")
    builder.write("logs/important.log", "i\n")
    builder.write(".dockerignore", "# comment\n*.env\nlogs/*.log\n!logs/important.log\n")
    builder.dockerfile("FROM @BASE@\nCOPY . /ctx/\nCMD [\"find\", \"/ctx\", \"-type\", \"f\"]\n")
    r = builder.build()
    assert r.code == 0, r
    files = sorted(builder.run().out.split())
    assert files == ["/ctx/.dockerignore", "/ctx/Dockerfile", "/ctx/compose.yaml", "/ctx/keep.txt",
                     "/ctx/logs/important.log"]


def test_rebuild_uses_the_cache_by_content_and_reruns_only_later_steps(builder):
    builder.write("app.txt", "v1\n")
    builder.write("other.txt", "o\n")
    builder.dockerfile("""
FROM @BASE@
COPY other.txt /other
RUN echo ran-$((1))
COPY app.txt /app.txt
RUN echo ran-$((2))
CMD ["cat", "/app.txt"]
""")
    first = builder.build()
    assert first.code == 0, first
    config1 = builder.config()
    again = builder.build()
    assert again.code == 0, again
    assert "ran-1\n" not in again.out and "ran-2\n" not in again.out  # no container ran
    assert again.out.count("Using cache") == 4
    assert builder.config() == config1  # the same image
    # touching a file without changing it is no change (content, not timestamps)
    (builder.ctx / "app.txt").touch()
    assert "ran-2\n" not in builder.build().out
    # one file changed: only the steps after its COPY run again
    builder.write("app.txt", "v2\n")
    third = builder.build()
    assert third.code == 0, third
    assert "ran-1\n" not in third.out and "ran-2\n" in third.out
    run = builder.run()
    assert run.out == "v2\n", run
    nocache = builder.build("--no-cache")
    assert "ran-1\n" in nocache.out and "ran-2\n" in nocache.out


def test_quiet_prints_nothing(builder):
    builder.dockerfile("FROM @BASE@\nRUN echo noisy\n")
    r = builder.build("-q")
    assert r.code == 0, r
    assert r.out == ""


def test_built_image_is_listed_by_stack_images(builder):
    builder.dockerfile("FROM @BASE@\nRUN touch /x\n")
    assert builder.build().code == 0
    p = subprocess.run([STACK, "--root", str(builder.root), "images", "--format", "json"],
                       capture_output=True, text=True)
    names = {(i["Repository"], i["Tag"]) for i in json.loads(p.stdout)}
    assert ("proj-app", "latest") in names


def test_run_mount_cache_is_kept_between_builds_and_not_in_the_image(builder):
    builder.write("version", "1\n")
    builder.dockerfile("""
FROM @BASE@
COPY version /version
RUN --mount=type=cache,target=/var/cache/pkg \\
    if [ -e /var/cache/pkg/download ]; then echo cache-hit; else echo cache-miss; fi; \\
    echo fetched > /var/cache/pkg/download; cp /var/cache/pkg/download /got
CMD ["sh", "-c", "cat /got; ls /var/cache/pkg 2>&1 || true"]
""")
    first = builder.build()
    assert first.code == 0, first
    assert "cache-miss" in first.out
    builder.write("version", "2\n")  # the RUN step runs again; its cache mount is kept
    second = builder.build()
    assert second.code == 0, second
    assert "cache-hit" in second.out
    run = builder.run()
    assert run.out.splitlines()[0] == "fetched"
    assert "No such file or directory" in run.out  # the mount's content is not in a layer


def test_run_mount_bind_reads_the_context_and_a_stage(builder):
    builder.write("src/input.txt", "from context\n")
    builder.dockerfile("""
FROM @BASE@ AS tools
RUN echo from-stage > /tool.txt
FROM @BASE@
RUN --mount=type=bind,source=src,target=/mnt/src \\
    --mount=type=bind,from=tools,source=/tool.txt,target=/mnt/tool.txt \\
    cat /mnt/src/input.txt /mnt/tool.txt > /result
CMD ["sh", "-c", "cat /result; ls /mnt 2>&1 || true"]
""")
    r = builder.build()
    assert r.code == 0, r
    run = builder.run()
    assert run.out.splitlines()[:2] == ["from context", "from-stage"]
    assert "No such file or directory" in run.out  # the mount points are not in a layer


def test_onbuild_triggers_run_in_the_child_build_and_are_not_inherited(builder):
    builder.write("Dockerfile.base", f"FROM {builder.base}\nONBUILD RUN echo triggered > /trig\n")
    builder.write("Dockerfile.child", "FROM example/onbuild-base\nCMD [\"cat\", \"/trig\"]\n")
    builder.write("compose.yaml", "services:\n"
                  "  base:\n    image: example/onbuild-base\n    build:\n      context: .\n"
                  "      dockerfile: Dockerfile.base\n"
                  "  child:\n    build:\n      context: .\n      dockerfile: Dockerfile.child\n"
                  # as with Compose, the order comes from the service: context
                  "      additional_contexts:\n        example/onbuild-base: service:base\n")
    r = builder.build()
    assert r.code == 0, r
    assert "# Executing 1 build trigger" in r.out
    assert builder.config("example/onbuild-base")["config"]["OnBuild"] == ["RUN echo triggered > /trig"]
    assert "OnBuild" not in builder.config("proj-child")["config"]
    assert builder.run("proj-child").out == "triggered\n"


def test_run_uses_the_builder_network_unless_none(builder):
    url = f"http://{builder.registry.host}/v2/"
    builder.dockerfile(f"FROM @BASE@\nRUN (wget -q -O /dev/null {url} && echo reachable || echo unreachable) > /net\n"
                       "CMD [\"cat\", \"/net\"]\n")
    r = builder.build()
    assert r.code == 0, r
    assert builder.run().out == "reachable\n"
    builder.write("compose.yaml", "services:\n  app:\n    build:\n      context: .\n      network: none\n")
    r = builder.build()
    assert r.code == 0, r
    assert builder.run().out == "unreachable\n"


def test_pull_flag_pulls_a_base_already_in_the_store(builder):
    builder.dockerfile("FROM @BASE@\n")
    first = builder.build()
    assert first.code == 0 and "pulling" in first.out, first
    assert "pulling" not in builder.build().out
    again = builder.build("--pull", "--progress", "plain")
    assert again.code == 0 and "pulling" in again.out, again


def test_add_url_downloads_the_file_with_mode_0600(builder):
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"downloaded\n" if self.path.startswith("/files/note.txt") else None
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        base = f"http://127.0.0.1:{srv.server_port}"
        builder.dockerfile(f"FROM @BASE@\nADD {base}/files/note.txt?v=1 /opt/\n"
                           "CMD [\"sh\", \"-c\", \"cat /opt/note.txt; stat -c %a /opt/note.txt\"]\n")
        r = builder.build()
        assert r.code == 0, r
        assert builder.run().out == "downloaded\n600\n"
        builder.dockerfile(f"FROM @BASE@\nADD {base}/missing.txt /opt/\n")
        r = builder.build()
        assert r.code == 1 and "HTTP 404" in r.err, r
    finally:
        srv.shutdown()
        srv.server_close()


def test_copy_exclude_and_dockerfile_specific_ignore_file(builder):
    builder.write("src/a.txt", "a\n")
    builder.write("src/b.md", "b\n")
    builder.write("src/sub/c.md", "c\n")
    builder.write("skip-me", "x\n")
    builder.write(".dockerignore", "src\n")  # shadowed by app.Dockerfile.dockerignore
    builder.write("app.Dockerfile.dockerignore", "skip-me\n")
    builder.write("app.Dockerfile", f"FROM {builder.base}\nCOPY --exclude=*.md --exclude=**/c.md src /s/\n"
                  "COPY . /ctx/\nCMD [\"sh\", \"-c\", \"find /s -type f; ls /ctx\"]\n")
    builder.write("compose.yaml", "services:\n  app:\n    build:\n      context: .\n"
                  "      dockerfile: app.Dockerfile\n")
    r = builder.build()
    assert r.code == 0, r
    out = builder.run().out.split()
    assert out[0] == "/s/a.txt" and "/s/b.md" not in out and "/s/sub/c.md" not in out, out
    assert "src" in out and "skip-me" not in out, out


def test_additional_contexts_directory_image_and_service(builder):
    extra = builder.tmp / "proj/extra"
    extra.mkdir()
    (extra / "data.txt").write_text("from extra\n")
    builder.write("Dockerfile.tools", "FROM @BASE@\nRUN echo tool > /tool\n".replace("@BASE@", builder.base))
    builder.write("Dockerfile", "FROM base\nCOPY --from=extra data.txt /data.txt\n"
                  "COPY --from=tools /tool /tool\nCMD [\"cat\", \"/data.txt\", \"/tool\"]\n")
    builder.write("compose.yaml", "services:\n"
                  "  app:\n    build:\n      context: .\n      additional_contexts:\n"
                  f"        base: docker-image://{builder.base}\n"
                  "        extra: ./extra\n        tools: service:a-tools\n"
                  "  a-tools:\n    build:\n      context: .\n      dockerfile: Dockerfile.tools\n")
    r = builder.build("a-tools")
    assert r.code == 0, r
    r = builder.build("app")
    assert r.code == 0, r
    assert builder.run().out == "from extra\ntool\n"


def test_extra_hosts_and_shm_size_reach_run(builder):
    builder.dockerfile("FROM @BASE@\nRUN grep myhost /etc/hosts > /hosts; df -k /dev/shm | tail -1 > /shm\n"
                       "CMD [\"cat\", \"/hosts\", \"/shm\"]\n",
                       compose="services:\n  app:\n    build:\n      context: .\n"
                               "      extra_hosts:\n        - myhost=10.1.2.3\n      shm_size: 8m\n")
    r = builder.build()
    assert r.code == 0, r
    hosts, shm = builder.run().out.splitlines()
    assert hosts.split() == ["10.1.2.3", "myhost"]
    assert shm.split()[1] == "8192", shm
    assert "myhost" not in builder.run(cmd=["cat", "/etc/hosts"]).out  # not kept in the image


def test_independent_services_build_in_parallel(builder):
    # "listen" can only finish if "talk" runs at the same time: they meet on a port of
    # the builder's network namespace, which RUN shares.
    port = 47000 + os.getpid() % 1000
    # Both sides retry until a connection carried the message and its answer: a
    # connection that carried nothing (seen under load) does not end either step.
    # `&& grep`: the step's shell stays PID 1 and runs timeout as a child; alone, sh -c
    # would exec timeout as PID 1, whose command then ignores timeout's SIGTERM.
    builder.write("Dockerfile.listen", f"FROM {builder.base}\n"
                  f"RUN timeout 90 sh -c 'until echo ack | nc -l -p {port} > /got && grep -q hello /got; do :; done' && grep -q hello /got\n"
                  "CMD [\"cat\", \"/got\"]\n")
    builder.write("Dockerfile.talk", f"FROM {builder.base}\n"
                  f"RUN for i in $(seq 900); do [ \"$(echo hello | nc 127.0.0.1 {port})\" = ack ] && exit 0; sleep 0.1; done; exit 1\n")
    builder.write("compose.yaml", "services:\n"
                  "  listen:\n    build:\n      context: .\n      dockerfile: Dockerfile.listen\n"
                  "  talk:\n    build:\n      context: .\n      dockerfile: Dockerfile.talk\n")
    r = builder.build()
    assert r.code == 0, r
    assert builder.run("proj-listen").out == "hello\n"
    assert r.out.count("Successfully built") == 2


def test_compose_dockerfile_inline_labels_tags_and_no_cache(builder):
    builder.write("compose.yaml", "services:\n  app:\n    build:\n      context: .\n"
                  "      dockerfile_inline: |\n"
                  f"        FROM {builder.base}\n"
                  "        RUN echo ran-$$((40 + 2))\n"
                  "        CMD [\"echo\", \"inline\"]\n"
                  "      labels:\n        com.example.built-by: stack\n"
                  "      tags:\n        - example/extra:v2\n"
                  "      no_cache: true\n")
    r = builder.build()
    assert r.code == 0, r
    assert builder.run().out == "inline\n"
    assert builder.run("example/extra:v2").out == "inline\n"
    assert builder.config()["config"]["Labels"] == {"com.example.built-by": "stack"}
    again = builder.build()
    assert "ran-42\n" in again.out and "Using cache" not in again.out  # no_cache


def test_copy_file_to_an_existing_directory_without_slash_goes_inside(builder):
    builder.write("conf.txt", "conf\n")
    builder.dockerfile("FROM @BASE@\nRUN mkdir /etc/app\nCOPY conf.txt /etc/app\nCOPY conf.txt /newname\n"
                       "CMD [\"cat\", \"/etc/app/conf.txt\", \"/newname\"]\n")
    r = builder.build()
    assert r.code == 0, r
    assert builder.run().out == "conf\nconf\n"


def test_copy_destination_follows_the_image_symlinks(builder):
    builder.write("lib.so", "library\n")
    builder.dockerfile("FROM @BASE@\nRUN mkdir -p /usr/lib2 && ln -s usr/lib2 /lib2 && ln -s /usr/lib2 /abs\n"
                       "COPY lib.so /lib2/sub/\nCOPY lib.so /abs/direct.so\n"
                       "CMD [\"sh\", \"-c\", \"readlink /lib2; readlink /abs; cat /usr/lib2/sub/lib.so /usr/lib2/direct.so\"]\n")
    r = builder.build()
    assert r.code == 0, r
    assert builder.run().out == "usr/lib2\n/usr/lib2\nlibrary\nlibrary\n"


def test_copy_chown_by_name_uses_the_image_passwd_and_group(builder):
    builder.write("f", "x\n")
    builder.dockerfile("FROM @BASE@\nRUN echo 'web:x:4321:4321::/:/bin/sh' >> /etc/passwd && echo 'www:x:555:' >> /etc/group\n"
                       "COPY --chown=web:www f /f\nCMD [\"stat\", \"-c\", \"%u:%g\", \"/f\"]\n")
    r = builder.build()
    assert r.code == 0, r
    assert builder.run().out == "4321:555\n"
    builder.dockerfile("FROM @BASE@\nCOPY --chown=nobody-here f /f\n")
    r = builder.build()
    assert r.code == 1 and 'no user "nobody-here"' in r.err, r


def test_independent_stages_of_one_build_run_at_the_same_time(builder):
    # Stage "listen" can only finish while stage "talk" runs: they meet on a port of the
    # builder's network namespace. Both retry until one connection carried the message
    # and its answer.
    port = 48000 + os.getpid() % 1000
    # `&& grep`: the step's shell stays PID 1 and runs timeout as a child; alone, sh -c
    # would exec timeout as PID 1, whose command then ignores timeout's SIGTERM.
    builder.dockerfile(f"""
FROM @BASE@ AS listen
RUN timeout 90 sh -c 'until echo ack | nc -l -p {port} > /got && grep -q hello /got; do :; done' && grep -q hello /got

FROM @BASE@ AS talk
RUN for i in $(seq 900); do [ "$(echo hello | nc 127.0.0.1 {port})" = ack ] && echo talked > /talked && exit 0; sleep 0.1; done; exit 1

FROM @BASE@
COPY --from=listen /got /got
COPY --from=talk /talked /talked
CMD ["cat", "/got", "/talked"]
""")
    r = builder.build()
    assert r.code == 0, r
    assert builder.run().out == "hello\ntalked\n"
    # the result is the same as a sequential build's: a rebuild is all cache hits
    r = builder.build()
    assert r.code == 0 and r.out.count("Using cache") == 4, r


def test_a_failing_stage_among_parallel_ones_fails_the_build_with_its_step(builder):
    builder.dockerfile("""
FROM @BASE@ AS good
RUN echo fine > /fine

FROM @BASE@ AS bad
RUN echo broken stage; exit 4

FROM @BASE@
COPY --from=good /fine /fine
COPY --from=bad /x /x
""")
    r = builder.build()
    assert r.code == 1, r
    assert "stack: app: stage bad: step 4/7: RUN echo broken stage; exit 4: exit 4" in r.err, r
    assert "broken stage" in r.err


def test_copied_directories_take_owner_and_mode_in_the_copy_not_in_the_source(builder):
    # a stage's tree is mounted read-only: the copy's owner is set on the copy
    d = builder.write("d/x", "x\n").parent
    d.chmod(0o750)
    builder.dockerfile("""
FROM @BASE@ AS deps
RUN mkdir -p /deps && echo lib > /deps/lib1

FROM @BASE@
COPY --from=deps /deps /opt/deps
COPY --chown=12:34 --chmod=0711 d /d2
CMD ["sh", "-c", "cat /opt/deps/lib1; stat -c '%u %g %a' /d2"]
""")
    r = builder.build()
    assert r.code == 0, r
    assert builder.run().out == "lib\n12 34 711\n"
    st = os.stat(d)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, 0, 0o750)
