"""stack build: RUN --mount=type=secret (compose build.secrets, --secret) and
RUN --mount=type=ssh (--ssh default, a real ssh-agent): readable in the RUN, never in a
layer, in the image or in the step cache."""
import hashlib
import os
import shutil
import subprocess

from build_helpers import builder  # noqa: F401

SECRET = "tok-" + hashlib.sha256(str(os.getpid()).encode()).hexdigest()[:24]
ENV_SECRET = "env-" + hashlib.sha256(b"x" + str(os.getpid()).encode()).hexdigest()[:24]


def files_holding(root, needle: bytes):
    """Every file under root whose bytes contain needle."""
    found = []
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    if needle in f.read():
                        found.append(p)
    return found


def sha(s):
    return hashlib.sha256(s.encode()).hexdigest()


def test_compose_build_secrets_are_readable_in_run_and_absent_from_image_and_cache(builder):
    builder.write("tok.txt", SECRET)
    builder.dockerfile("""
FROM @BASE@
RUN --mount=type=secret,id=tok sha256sum /run/secrets/tok | cut -d' ' -f1 > /tok.sum
RUN --mount=type=secret,id=other,target=/etc/es,mode=0440,uid=1,gid=2 \\
    stat -c '%a %u %g' /etc/es > /es.stat && sha256sum /etc/es | cut -d' ' -f1 > /es.sum
RUN --mount=type=secret,id=absent ls /run/secrets > /listing 2>&1 || echo none > /listing
CMD ["sh", "-c", "cat /tok.sum /es.sum /es.stat /listing; test -e /run/secrets/tok || echo gone"]
""", compose="""services:
  app:
    build:
      context: .
      secrets: [tok, {source: fromenv, target: other}]
secrets:
  tok:
    file: ./tok.txt
  fromenv:
    environment: MY_SECRET
""")
    r = builder.build(env={"MY_SECRET": ENV_SECRET})
    assert r.code == 0, r
    run = builder.run(spec={"user": "0"})
    assert run.code == 0, run
    assert run.out.splitlines() == [sha(SECRET), sha(ENV_SECRET), "440 1 2", "none", "gone"], run
    for needle in (SECRET, ENV_SECRET):
        assert files_holding(builder.root, needle.encode()) == []
    # the cache still hits: the step's key has the flag, not the content
    r = builder.build(env={"MY_SECRET": ENV_SECRET})
    assert r.code == 0 and r.out.count("Using cache") == 3, r


def test_secret_flag_from_a_file_and_a_required_secret_that_is_missing(builder):
    builder.write("Dockerfile.need", "FROM @BASE@\n"
                  "RUN --mount=type=secret,id=key,required=true cat /run/secrets/key > /dev/null\n"
                  .replace("@BASE@", builder.base))
    builder.dockerfile("FROM @BASE@\nRUN --mount=type=secret,id=key,required "
                       "sha256sum /run/secrets/key | cut -d' ' -f1 > /key.sum\nCMD [\"cat\", \"/key.sum\"]\n")
    secret_file = builder.tmp / "key"
    secret_file.write_text(SECRET)
    r = builder.build("--secret", f"id=key,src={secret_file}")
    assert r.code == 0, r
    assert builder.run(spec={"user": "0"}).out == sha(SECRET) + "\n"
    assert files_holding(builder.root, SECRET.encode()) == []
    builder.write("compose.yaml", "services:\n  app:\n    build:\n      context: .\n"
                  "      dockerfile: Dockerfile.need\n")
    r = builder.build()
    assert r.code == 1, r
    assert "step 2/2" in r.err and "secret key is required but was not given" in r.err, r


def test_invalid_secret_flag_is_an_error(builder):
    builder.dockerfile("FROM @BASE@\n")
    r = builder.build("--secret", "id=x")
    assert r.code == 1, r
    assert r.err.strip() == ('stack: invalid --secret "id=x" (want id=ID,src=FILE or '
                             'id=ID,env=VAR)'), r


def test_build_secret_that_is_not_a_top_level_secret_is_an_error(builder):
    builder.dockerfile("FROM @BASE@\n", compose="services:\n  app:\n    build:\n"
                       "      context: .\n      secrets: [nope]\n")
    r = builder.build()
    assert r.code == 1, r
    assert 'app: build secret "nope" is not a top-level secret' in r.err, r


def ssh_tools(builder):
    """ssh-add and the libraries it loads, copied into the context under tools/."""
    paths = ["/usr/bin/ssh-add"]
    out = subprocess.run(["ldd", "/usr/bin/ssh-add"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        for word in line.split():
            if word.startswith("/"):
                paths.append(word)
    for p in paths:
        real = os.path.realpath(p)
        dst = builder.ctx / "tools" / p.lstrip("/")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(real, dst)


def test_run_mount_ssh_forwards_the_agent_of_ssh_auth_sock(builder):
    ssh_tools(builder)
    key = builder.tmp / "id_ed25519"
    sock = builder.tmp / "agent.sock"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "stack-test",
                    "-f", str(key)], check=True)
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        env = {"SSH_AUTH_SOCK": str(sock)}
        from uplib import poll_until
        poll_until(lambda: sock.exists(), what="the agent's socket")
        subprocess.run(["ssh-add", "-q", str(key)], env=env, check=True)
        listed = subprocess.run(["ssh-add", "-l"], env=env, capture_output=True, text=True,
                                check=True).stdout
        builder.dockerfile("FROM @BASE@\nCOPY tools/ /\n"
                           "RUN --mount=type=ssh ssh-add -l > /keys; echo \"$SSH_AUTH_SOCK\" >> /keys\n"
                           "RUN --mount=type=ssh,id=other ls /run/buildkit > /other 2>&1 || echo none > /other\n"
                           "CMD [\"cat\", \"/keys\", \"/other\"]\n")
        r = builder.build("--ssh", "default", env=env)
        assert r.code == 0, r
        out = builder.run(spec={"user": "0"}).out
        assert out == listed + "/run/buildkit/ssh_agent.0\nnone\n", out
        # without an agent given, a required ssh mount fails the step
        builder.write("Dockerfile", f"FROM {builder.base}\nRUN --mount=type=ssh,required true\n")
        r = builder.build()
        assert r.code == 1 and 'no ssh agent "default" was given' in r.err, r
    finally:
        agent.terminate()
        agent.wait()
