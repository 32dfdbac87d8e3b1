"""The command line itself: usage, unknown commands and flags, version."""
import json


def test_version_prints_the_version(stack):
    r = stack("version")
    assert r.code == 0
    assert r.out.startswith("stack version ")


def test_version_json_is_valid_json(stack):
    r = stack("version", "--format", "json")
    assert r.code == 0
    assert "version" in json.loads(r.out)


def test_unknown_command_prints_usage_and_exits_2(stack):
    r = stack("frobnicate")
    assert r.code == 2
    assert 'unknown command "frobnicate"' in r.err
    assert "Usage: stack" in r.err


def test_unknown_global_flag_exits_2(stack):
    r = stack("--frob", "config")
    assert r.code == 2
    assert "unknown flag: --frob" in r.err


def test_unknown_command_flag_exits_2(stack):
    r = stack("config", "--frob")
    assert r.code == 2
    assert "unknown flag: --frob" in r.err


def test_no_command_prints_usage_and_exits_2(stack):
    r = stack()
    assert r.code == 2
    assert "Usage: stack" in r.err


def test_every_command_has_help(stack):
    for cmd in ["config", "version"]:
        r = stack(cmd, "--help")
        assert r.code == 0, cmd
        assert r.out.startswith(f"Usage: stack {cmd}"), cmd
