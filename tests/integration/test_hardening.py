"""The built binary carries the hardening configure turns on by default: a position-
independent executable, full RELRO (GNU_RELRO and BIND_NOW), the stack protector and
_FORTIFY_SOURCE's checked functions. Read from the ELF file with binutils."""
import re
import shutil
import subprocess

import pytest

from conftest import STACK_BINARY

pytestmark = pytest.mark.skipif(not shutil.which("readelf"), reason="binutils is not installed")


def readelf(*args):
    return subprocess.run(["readelf", "-W", *args, STACK_BINARY], capture_output=True,
                          text=True, check=True).stdout


def dynamic_symbols():
    """The names of the undefined (imported) dynamic symbols, without version suffixes."""
    names = set()
    for line in readelf("--dyn-syms").splitlines():
        f = line.split()
        if len(f) >= 8 and f[6] == "UND":
            names.add(f[7].split("@")[0])
    return names


def test_binary_is_a_position_independent_executable():
    assert re.search(r"^\s*Type:\s+DYN\b", readelf("-h"), re.M)
    assert re.search(r"\(FLAGS_1\).*\bPIE\b", readelf("-d"))


def test_relocations_are_read_only_and_bound_at_start():
    assert re.search(r"^\s*GNU_RELRO\b", readelf("-l"), re.M)
    dyn = readelf("-d")
    assert re.search(r"\(FLAGS\).*\bBIND_NOW\b", dyn) or re.search(r"\(FLAGS_1\).*\bNOW\b", dyn)


def test_stack_protector_is_compiled_in():
    assert "__stack_chk_fail" in dynamic_symbols()


def test_fortified_libc_functions_are_called():
    checked = {s for s in dynamic_symbols() if re.fullmatch(r"__\w+_chk", s)} - {"__stack_chk_fail"}
    assert checked, "no __*_chk function referenced: not built with _FORTIFY_SOURCE"
