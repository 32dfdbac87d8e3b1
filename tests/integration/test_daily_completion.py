"""`stack completion bash|zsh` and `stack version`: the scripts load in their shells and
complete commands, flags and the project's services; the version as Compose prints it."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import STACK


def shell(tmp_path, exe, script):
    env = {"PATH": f"{os.path.dirname(STACK)}:/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run([exe, "-c", script], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=60)


def complete(tmp_path, *words):
    """What the bash function offers for the words typed (the last one being completed)."""
    quoted = " ".join(f"'{w}'" for w in words)
    r = shell(tmp_path, "bash", f"source <(stack completion bash) && COMP_WORDS=({quoted}) && "
                                f"COMP_CWORD={len(words) - 1} && _stack && "
                                "printf '%s\\n' \"${COMPREPLY[@]}\"")
    assert r.returncode == 0 and r.stderr == "", r
    return r.stdout.split()


def test_bash_completion_registers_and_completes_commands_flags_and_services(tmp_path):
    r = shell(tmp_path, "bash", "source <(stack completion bash) && complete -p stack")
    assert r.returncode == 0 and r.stderr == "", r
    assert r.stdout.strip() == "complete -F _stack stack"
    assert complete(tmp_path, "stack", "st") == ["start", "stats", "stop"]
    assert set(complete(tmp_path, "stack", "stats", "--no")) == {"--no-stream", "--no-trunc"}
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "compose.yaml").write_text("services:\n  web: {image: x}\n  worker: {image: x}\n"
                                       "  db: {image: x}\n")
    assert complete(tmp_path, "stack", "--project-directory", str(proj), "logs", "w") == \
        ["web", "worker"]
    assert complete(tmp_path, "stack", "-f", str(proj / "compose.yaml"), "cp", "d") == ["db:"]
    assert complete(tmp_path, "stack", "completion", "") == ["bash", "zsh"]


@pytest.mark.skipif(not shutil.which("zsh"), reason="zsh is not installed")
def test_zsh_completion_loads_after_compinit_and_registers_stack(tmp_path):
    r = shell(tmp_path, "zsh", "autoload -U compinit && compinit -u && "
                               "source <(stack completion zsh) && print -r -- $_comps[stack]")
    assert r.returncode == 0 and r.stderr == "", r
    assert r.stdout.strip() == "_stack"


def test_completion_of_an_unknown_shell_is_a_usage_error(stack):
    r = stack("completion", "fish")
    assert r.code == 2 and "unsupported shell" in r.err, r


def test_version_json_and_short_print_only_the_version(stack):
    v = stack("version", "--short").out.strip()
    assert v and " " not in v
    assert json.loads(stack("version", "--format", "json").out) == {"version": v}
    assert stack("version").out == f"stack version {v}\n"
