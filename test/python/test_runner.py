"""The runners behind cp.Target: in process (libcopapy-runtime.so), coparun --serve, one process per run.

Real tools of the checkout (build/bin, build/lib, or $COPAPY_CC, $COPAPY_RUN,
$COPAPY_RUNTIME_LIB as test/CMakeLists.txt sets them); a missing tool is a
failure. Foreign-target tests use thumbv7em under qemu-arm. Covered:
- the serve protocol spoken directly to coparun (replies, errors for every
  kind of malformed request, the length bound, end of input);
- which runner a Target picks, and where the library is found;
- the in-process mapping: never writable and executable at once
  (/proc/self/maps), released again, bad images rejected with the runtime's
  message;
- a runner killed mid-run, one that prints garbage or nothing, and one whose
  Python side goes away;
- recompiling on the same Target, two Targets at once, run(n) and
  run_batch() against single runs on every runner.
"""
import gc
import math
import os
import signal
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest
import zlib
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple
from unittest import mock

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "python"))

import copapy as cp  # noqa: E402
from copapy import _runner, _target  # noqa: E402

HOST = "x86_64" if os.uname().machine in ("x86_64", "amd64") else "aarch64"
FOREIGN = "thumbv7em"


def f32(x: float) -> float:
    """x rounded to binary32; beyond its range, the infinity of x's sign (as C's conversion)."""
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


def tool(name: str, var: str, sub: str = "bin") -> str:
    return os.environ.get(var) or str(REPO / "build" / sub / name)


def maps_of(pid: Any = "self") -> List[Tuple[int, int, str]]:
    """(start, end, permissions) of every mapping of a process."""
    rows = []
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        span, perms = line.split()[:2]
        lo, hi = (int(x, 16) for x in span.split("-"))
        rows.append((lo, hi, perms))
    return rows


def perms_at(address: int) -> Optional[str]:
    for lo, hi, perms in maps_of():
        if lo <= address < hi:
            return perms
    return None


class Case(unittest.TestCase):
    """The real tools, a scratch directory and an environment restored afterwards."""

    def setUp(self) -> None:
        self._env = dict(os.environ)
        self.cc = tool("copapy-cc", "COPAPY_CC")
        self.run_tool = tool("coparun", "COPAPY_RUN")
        for path in (self.cc, self.run_tool):
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                self.fail(f"{path} is missing: build the checkout (tools/quickstart.sh) or set COPAPY_CC/COPAPY_RUN")
        os.environ["COPAPY_CC"] = self.cc
        os.environ["COPAPY_RUN"] = self.run_tool
        for var in ("COPAPY_TARGET", "COPAPY_RUNNER", "COPAPY_RUNNER_TIMEOUT"):
            os.environ.pop(var, None)
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)

    def tearDown(self) -> None:
        gc.collect()  # runners of this test end here, not during the next one
        os.environ.clear()
        os.environ.update(self._env)
        self._tmp.cleanup()

    def build(self, target: str, **named: Any) -> Path:
        """An image of the named values for `target`, via cp.export and copapy-cc."""
        dag = self.tmp / f"prog-{target}.json"
        image = self.tmp / f"prog-{target}.cpimg"
        cp.export(str(dag), **named)
        subprocess.run([self.cc, "build", str(dag), "-t", target, "-o", str(image)], check=True)
        return image


def program() -> Tuple[Any, ...]:
    """x (float), n (int), flag (bool) in; y = x * 2 + n, m = iif(flag, n, -n),
    acc = a state summing x; returns (x, n, flag, y, m, acc)."""
    x = cp.value(0.5, name="x")
    n = cp.value(3, name="n")
    flag = cp.value(True, name="flag")
    acc = cp.state(0.0, name="acc")
    acc.next(acc + x)
    y = x * 2.0 + n
    m = cp.iif(flag, n, -n)
    return x, n, flag, y, m, acc


# ---- The protocol, spoken to coparun directly ------------------------------------

class ServeProtocol(Case):
    def serve(self, image: Path, requests: str, target: str = HOST, extra: Tuple[str, ...] = ()
              ) -> subprocess.CompletedProcess:
        cmd = [self.run_tool] if target == HOST else ["qemu-arm", tool("coparun-armhf", "COPAPY_RUN_ARMHF")]
        return subprocess.run(cmd + [str(image), "--serve", *extra], input=requests.encode(), capture_output=True,
                              timeout=60)

    def replies(self, image: Path, requests: str, target: str = HOST) -> List[str]:
        proc = self.serve(image, requests, target)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = proc.stdout.decode().splitlines()
        self.assertEqual(lines[0], "ready 2")
        return lines[1:]

    def test_requests_and_replies(self) -> None:
        x, n, flag, y, m, acc = program()
        for target in (HOST, FOREIGN):
            with self.subTest(target=target):
                image = self.build(target, y=y, m=m, acc=acc)
                got = self.replies(image, "set x 1.5 n -4\nrun\nget y m acc\nbits y m acc x\nrun 3\nget acc\n"
                                          "set flag false x 0x1p-2\nrun\nget\n"
                                          "batch y acc | x 1 | | x 2 n 0x10\nget y acc\nquit\nget\n", target)
                self.assertEqual(got[:3], ["ok", "ok", 'ok {"y": -1.0, "m": -4, "acc": 1.5}'])
                # bits: the 32-bit patterns (binary32 -1.0, int -4, 1.5, and the input itself).
                self.assertEqual(got[3], "ok bf800000 fffffffc 3fc00000 3fc00000")
                self.assertEqual(got[4:6], ["ok", 'ok {"acc": 6.0}'])
                self.assertEqual(got[6:8], ["ok", "ok"])
                everything = got[8]
                self.assertTrue(everything.startswith("ok {") and '"m": 4' in everything
                                and '"acc": 6.25' in everything, everything)
                # Three periods (one per '|'): x = 1, then unchanged, then x = 2 and n = 16.
                words = got[9].split()
                self.assertEqual(words[0], "ok")
                values = struct.unpack(">6f", bytes.fromhex("".join(words[1:])))
                self.assertEqual(values, (-2.0, 7.25, -2.0, 8.25, 20.0, 10.25))
                self.assertEqual(got[10], 'ok {"y": 20.0, "acc": 10.25}')
                self.assertEqual(got[11:], ["ok"])  # quit: nothing after it is answered
                # Values as 32-bit patterns (#HHHHHHHH, what the tracer sends for floats).
                got = self.replies(image, "set x #40200000 n #FFFFFFFE flag #00000000\nrun\nget y m\n", target)
                self.assertEqual(got, ["ok", "ok", 'ok {"y": 3.0, "m": 2}'])

    def test_columns(self) -> None:
        x, n, flag, y, m, acc = program()
        for target in (HOST, FOREIGN):
            with self.subTest(target=target):
                image = self.build(target, y=y, m=m, acc=acc)
                # Three periods: x = 1, 2, 4 (column 1) and n = 0, -1, 16 (column 2); the reply holds
                # y's three values, then m's, then acc's. Then two periods with no input column.
                got = self.replies(image, "columns 3 y m acc | x n | 3f8000004000000040800000"
                                          "00000000ffffffff00000010\nget x n\ncolumns 2 acc | |\n"
                                          "columns 1 | x | 3F000000\nget acc\n", target)
                self.assertTrue(got[0].startswith("ok ") and " " not in got[0][3:], got[0])
                raw = bytes.fromhex(got[0][3:])
                self.assertEqual(struct.unpack(">3f3i3f", raw), (2.0, 3.0, 24.0, 0, -1, 16, 1.0, 3.0, 7.0))
                self.assertEqual(got[1], 'ok {"x": 4.0, "n": 16}')  # the last period's inputs stay
                self.assertEqual(struct.unpack(">2f", bytes.fromhex(got[2][3:])), (11.0, 15.0))
                self.assertEqual(got[3:], ["ok", 'ok {"acc": 15.5}'])  # no outputs: a bare ok

    def test_malformed_requests_get_one_error_line_and_change_nothing(self) -> None:
        x, n, flag, y, m, acc = program()
        image = self.build(HOST, y=y, m=m, acc=acc)
        bad = {
            "frobnicate": "error: unknown request 'frobnicate' (known: set, run, get, bits, batch, columns, quit)",
            "set x": "error: set: 'x' has no value (expected NAME VALUE pairs)",
            "set x 2 q 1": "error: set: no input named 'q'",
            "set y 1": "error: set: 'y' is not an input (it is an output)",
            "set x 2 n 1.5": "error: set: '1.5' is not a valid int (int32) for 'n'",
            "set x 1e39": "error: set: '1e39' is out of float range (binary32: the largest finite value is "
                          "3.40282347e+38) for 'x'",
            "set x -1e39": "error: set: '-1e39' is out of float range (binary32: the largest finite value is "
                           "3.40282347e+38) for 'x'",
            "set n 2147483648": "error: set: '2147483648' is out of int32 range (-2147483648 to 2147483647) for 'n'",
            "set flag yes": "error: set: 'yes' is not a valid bool (true, false, 1 or 0) for 'flag'",
            "set flag #00000002": "error: set: '#00000002' is not a valid bool (true, false, 1 or 0) for 'flag'",
            "set x #3f80000": "error: set: '#3f80000' is not a valid float for 'x'",
            "set x #3f8000000": "error: set: '#3f8000000' is not a valid float for 'x'",
            "set n #-1": "error: set: '#-1' is not a valid int (int32) for 'n'",
            "run 0": "error: run: expected a whole number of runs >= 1, got '0'",
            "run -1": "error: run: expected a whole number of runs >= 1, got '-1'",
            "run 1x": "error: run: expected a whole number of runs >= 1, got '1x'",
            "run 99999999999999999999999": "error: run: expected a whole number of runs >= 1, got "
                                           "'99999999999999999999999'",
            "run 1 2": "error: run: expected at most one argument (the number of runs)",
            "get nope": "error: get: no value named 'nope'",
            "bits y nope": "error: bits: no value named 'nope'",
            "batch y": "error: batch: expected 'batch OUT ... | [NAME VALUE ...] | ...' (no '|' found)",
            "batch nope |": "error: batch: no value named 'nope'",
            "batch y | x 1 | x zz": "error: batch: 'zz' is not a valid float for 'x'",
            "batch y | x": "error: batch: 'x' has no value (expected NAME VALUE pairs)",
            "columns": "error: columns: expected a number of periods from 1 to 1048576, got ''",
            "columns 0 y | x | ": "error: columns: expected a number of periods from 1 to 1048576, got '0'",
            "columns 1048577 y | |": "error: columns: expected a number of periods from 1 to 1048576, got '1048577'",
            "columns 2 y": "error: columns: expected 'columns PERIODS OUT ... | IN ... | HEX' (a '|' is missing)",
            "columns 2 y | x": "error: columns: expected 'columns PERIODS OUT ... | IN ... | HEX' (a '|' is missing)",
            "columns 1 nope | |": "error: columns: no value named 'nope'",
            "columns 1 y | nope | 00000000": "error: columns: no input named 'nope'",
            "columns 1 y | y | 00000000": "error: columns: 'y' is not an input",
            "columns 2 y | x | 3f800000": "error: columns: expected 16 hex digits (2 periods x 1 inputs x 8), got 8",
            "columns 1 y | | 3f800000": "error: columns: expected 0 hex digits (1 periods x 0 inputs x 8), got 8",
            "columns 1 y | x | 3f80000g": "error: columns: 'g' is not a hex digit (period 0 of 'x')",
            "columns 2 y | x flag | 3f80000040000000 0000000100000002":
                "error: columns: expected one word of hex digits after the second '|'",
            "columns 2 y | x flag | 3f800000400000000000000100000002":
                "error: columns: 00000002 is not a bool (0 or 1) for 'flag' in period 1",
            "quit now": "error: quit: expected no arguments",
            "set " + "é" * 100: "error: set: no input named '" + "é" * 32 + "'",  # cut to 64 bytes
        }
        requests = "".join(f"{r}\nget x n acc\n" for r in bad) + "\n  \t \n"  # blank lines get no reply
        got = self.replies(image, requests)
        self.assertEqual(len(got), 2 * len(bad))
        for i, (request, want) in enumerate(bad.items()):
            with self.subTest(request=request):
                self.assertEqual(got[2 * i], want)
                # Nothing of a refused request happened: no input changed, nothing ran.
                self.assertEqual(got[2 * i + 1], 'ok {"x": 0.5, "n": 3, "acc": 0.0}')

    def test_requests_are_bounded(self) -> None:
        x, n, flag, y, m, acc = program()
        image = self.build(HOST, y=y)
        long_line = "set " + "x 1 " * 400_000  # 1.6 MB: more than the 1 MiB limit
        got = self.replies(image, long_line + "\nget x\n" + "set x 2\nget x\n")
        self.assertEqual(got, ["error: request longer than 1048576 bytes (the rest of the line is skipped)",
                               'ok {"x": 0.5}', "ok", 'ok {"x": 2.0}'])
        # A batch of 10,000 periods is one request of about 150 KB.
        periods = " | ".join(f"x {k}" for k in range(10_000))
        got = self.replies(image, f"batch y | {periods}\n")
        words = got[0].split()
        self.assertEqual(len(words), 10_001)
        self.assertEqual(struct.unpack(">f", bytes.fromhex(words[-1]))[0], 2 * 9999.0 + 3)

    def test_end_of_input_and_errors_of_the_command_line(self) -> None:
        x, n, flag, y, m, acc = program()
        image = self.build(HOST, y=y)
        proc = self.serve(image, "set x 1\nrun")  # the unfinished last line is dropped
        self.assertEqual((proc.returncode, proc.stdout, proc.stderr), (0, b"ready 2\nok\n", b""))
        proc = self.serve(image, "", extra=("--repeat", "2"))
        self.assertEqual(proc.returncode, 2)
        self.assertIn(b"--serve runs only on request: it cannot be combined with --repeat", proc.stderr)
        proc = self.serve(image, "get\nrun\nget y x\n", extra=("--set", "x=7"))   # --set applies before serving
        self.assertEqual(proc.stdout.decode().splitlines()[1:], ['ok {"y": 0.0}', "ok", 'ok {"y": 17.0, "x": 7.0}'])
        corrupt = self.tmp / "corrupt.cpimg"
        data = bytearray(image.read_bytes())
        data[60] ^= 0xFF
        corrupt.write_bytes(bytes(data))
        proc = self.serve(corrupt, "get\n")
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(proc.stdout, b"")
        self.assertEqual(proc.stderr.decode(),
                         f"coparun: error: {corrupt}: checksum mismatch: the image is corrupted\n")


# ---- Which runner, and where its library is ------------------------------------------

class Selection(Case):
    def test_defaults_and_choices(self) -> None:
        x, n, flag, y, m, acc = program()
        kinds = {}
        for arch, runner, env in ((None, None, None), (FOREIGN, None, None), (None, "serve", None),
                                  (None, None, "process"), (FOREIGN, None, "PROCESS"), (None, "process", "serve"),
                                  (FOREIGN, "inprocess", None)):
            if env is None:
                os.environ.pop("COPAPY_RUNNER", None)
            else:
                os.environ["COPAPY_RUNNER"] = env
            tg = cp.Target(arch, runner=runner)
            tg.compile(y)
            tg.run()
            self.assertEqual(tg.read_value(y), 4.0)
            kinds[(arch, runner, env)] = tg._runner.kind
            tg.close()
        self.assertEqual(kinds, {(None, None, None): "inprocess", (FOREIGN, None, None): "serve",
                                 (None, "serve", None): "serve", (None, None, "process"): "process",
                                 (FOREIGN, None, "PROCESS"): "process", (None, "process", "serve"): "process",
                                 (FOREIGN, "inprocess", None): "serve"})  # foreign code cannot run in process
        os.environ["COPAPY_RUNNER"] = "threads"
        with self.assertRaisesRegex(ValueError, "COPAPY_RUNNER must be one of auto, inprocess, serve, process, "
                                                "semihost, not 'threads'"):
            cp.Target()
        with self.assertRaisesRegex(ValueError, "runner must be one of"):
            cp.Target(runner="fast")

    def test_library_search(self) -> None:
        os.environ.pop("COPAPY_RUNTIME_LIB", None)
        lib, path = _runner.load_runtime_library("COPAPY_RUNTIME_LIB", _target._runtime_dirs())
        self.assertEqual(Path(path).resolve(), (Path(self.run_tool).resolve().parent.parent / "lib" /
                                                "libcopapy-runtime.so").resolve())
        os.environ["COPAPY_RUNTIME_LIB"] = str(self.tmp / "nowhere.so")
        with self.assertRaisesRegex(FileNotFoundError, "COPAPY_RUNTIME_LIB=.*nowhere.so is not a file"):
            _runner.load_runtime_library("COPAPY_RUNTIME_LIB", [])
        not_a_library = self.tmp / "libcopapy-runtime.so"
        not_a_library.write_text("hello")
        os.environ["COPAPY_RUNTIME_LIB"] = str(not_a_library)
        with self.assertRaisesRegex(RuntimeError, "cannot load the copapy runtime .*libcopapy-runtime.so"):
            _runner.load_runtime_library("COPAPY_RUNTIME_LIB", [])
        del os.environ["COPAPY_RUNTIME_LIB"]
        with self.assertRaisesRegex(FileNotFoundError, r"cannot find libcopapy-runtime.so; tried: \$COPAPY_RUNTIME_LIB "
                                                       r"\(not set\), .*/empty/libcopapy-runtime.so"):
            _runner.load_runtime_library("COPAPY_RUNTIME_LIB", [self.tmp / "empty"])

    def test_without_the_library(self) -> None:
        """"auto" falls back to coparun --serve; "inprocess" insists."""
        x, n, flag, y, m, acc = program()
        os.environ.pop("COPAPY_RUNTIME_LIB", None)
        with mock.patch.object(_target, "_runtime_dirs", return_value=[self.tmp]):
            tg = cp.Target()
            tg.compile(y)
            tg.run()
            self.assertEqual((tg._runner.kind, tg.read_value(y)), ("serve", 4.0))
            with self.assertRaisesRegex(FileNotFoundError, "cannot find libcopapy-runtime.so"):
                cp.Target(runner="inprocess").compile(y)

    def test_compiling_for_a_foreign_target_needs_no_runner(self) -> None:
        """save() of a thumbv7em image works without qemu: the runner starts with the first run."""
        x, n, flag, y, m, acc = program()
        with mock.patch.object(_target.shutil, "which", return_value=None):
            tg = cp.Target(FOREIGN)
            tg.compile(y)
            tg.save(self.tmp / "out.cpimg")
            self.assertTrue((self.tmp / "out.cpimg").read_bytes().startswith(b"CPIMG"))
            with self.assertRaisesRegex(FileNotFoundError, "cannot find qemu-arm"):
                tg.run()


# ---- On the bare-metal machine ------------------------------------------------------

class Semihost(Case):
    """Target(runner="semihost"): coparun as Cortex-M4F firmware on qemu-system-arm's
    mps2-an386, every run a boot; arguments through `coparun @FILE`."""

    def test_runs_on_the_board_and_carries_states(self) -> None:
        x, n, flag, y, m, acc = program()
        tg = cp.Target(FOREIGN, runner="semihost")
        tg.compile(y, m, acc)
        tg.run()
        self.assertEqual(tg._runner.kind, "semihost")
        self.assertEqual((tg.read_value(y), tg.read_value(m), tg.read_value(acc)), (4.0, 3, 0.5))
        tg.write_value(x, 1.25)
        tg.write_value(flag, False)
        tg.run(2)
        self.assertEqual((tg.read_value(y), tg.read_value(m), tg.read_value(acc)), (5.5, -3, 3.0))

    def test_a_command_line_longer_than_semihosting_takes(self) -> None:
        xs = [cp.value(float(i), name=f"a_rather_long_input_name_{i}") for i in range(200)]
        total = xs[0]
        for v in xs[1:]:
            total = total + v
        tg = cp.Target(FOREIGN, runner="semihost")
        tg.compile(total)
        for i, v in enumerate(xs):
            tg.write_value(v, float(2 * i))
        tg.run()
        self.assertEqual(tg.read_value(total), float(2 * sum(range(200))))

    def test_errors_name_the_cause(self) -> None:
        x, n, flag, y, m, acc = program()
        tg = cp.Target(FOREIGN, runner="semihost")
        tg.compile(y)
        Path(tg._program[0]).write_bytes(b"CPIMG but not an image")  # what the firmware reads
        with self.assertRaisesRegex(RuntimeError, r"qemu-system-arm failed \(exit status 1\):\ncoparun: error: .*"):
            tg.run()
        with self.assertRaisesRegex(RuntimeError, "runner 'semihost': no bare-metal machine for target 'aarch64' "
                                                  r"\(there is one for riscv32, thumbv7em\)"):
            other = cp.Target("aarch64", runner="semihost")
            other.compile(y)
            other.run()

    def test_coparun_reads_its_arguments_from_a_file(self) -> None:
        x, n, flag, y, m, acc = program()
        image = self.build(HOST, y=y)
        args = self.tmp / "args"
        args.write_text(f"{image}\n\n--set\nx=1.5\r\n")  # a blank line is skipped
        out = subprocess.run([self.run_tool, f"@{args}"], capture_output=True, text=True)
        self.assertEqual((out.returncode, out.stdout), (0, '{"y": 6.0}\n'))
        out = subprocess.run([self.run_tool, f"@{self.tmp / 'missing'}"], capture_output=True, text=True)
        self.assertEqual(out.returncode, 1)
        self.assertRegex(out.stderr, r"coparun: error: .*missing: cannot open")
        args.write_bytes(b"a\0b\n")
        out = subprocess.run([self.run_tool, f"@{args}"], capture_output=True, text=True)
        self.assertEqual(out.returncode, 1)
        self.assertIn("one argument per line (this has a NUL byte)", out.stderr)

    def test_a_blank_in_the_path_is_refused_with_the_reason(self) -> None:
        x, n, flag, y, m, acc = program()
        with self.assertRaisesRegex(ValueError, "runner 'semihost': the path .* has a blank"):
            _target._semihost_command(FOREIGN)([str(self.tmp / "my dir" / "prog.cpimg")])

    def test_a_hung_board_is_killed_after_the_timeout(self) -> None:
        x, n, flag, y, m, acc = program()
        tg = cp.Target(FOREIGN, runner="semihost")
        tg.compile(y)
        # An image whose open() blocks: a FIFO nobody writes (QEMU opens the host file for the board).
        fifo = self.tmp / "never.cpimg"
        os.mkfifo(fifo)
        tg._runner = _runner.SemihostRunner([], str(fifo), {"y": "float"}, [], wrap=_target._semihost_command(FOREIGN))
        os.environ["COPAPY_RUNNER_TIMEOUT"] = "2"
        started = time.monotonic()
        with self.assertRaisesRegex(RuntimeError, r"did not finish within 2 s \(COPAPY_RUNNER_TIMEOUT\); killed it"):
            tg.run()
        self.assertLess(time.monotonic() - started, 30)


# ---- In process ------------------------------------------------------------------------

class InProcess(Case):
    def test_code_is_never_writable_and_executable(self) -> None:
        x, n, flag, y, m, acc = program()
        tg = cp.Target()
        tg.compile(y, acc)
        runner = tg._runner
        self.assertIsInstance(runner, _runner.InProcessRunner)
        code, size = runner.code_range()
        self.assertGreater(size, 0)
        data = runner._lib.cp_host_data(runner._handle)
        self.assertEqual(perms_at(code), "r-xp")
        self.assertEqual(perms_at(code + size - 1), "r-xp")
        self.assertEqual(perms_at(data), "rw-p")
        tg.run()
        for lo, hi, perms in maps_of():
            if lo <= code < hi or lo <= data < hi:
                self.assertFalse("w" in perms and "x" in perms, f"{lo:#x}-{hi:#x} is {perms}")
        # No mapping of this process is writable and executable at once.
        self.assertEqual([m for m in maps_of() if "w" in m[2] and "x" in m[2]], [])

    def test_images_are_released(self) -> None:
        x, n, flag, y, m, acc = program()
        image = self.build(HOST, y=y).read_bytes()
        lib, _ = _runner.load_runtime_library("COPAPY_RUNTIME_LIB", _target._runtime_dirs())
        first = _runner.InProcessRunner(lib, image, "prog")
        code, _ = first.code_range()
        first.close()
        self.assertIsNone(perms_at(code), "the mapping outlived close()")
        first.close()  # twice is harmless
        with self.assertRaisesRegex(RuntimeError, "closed"):
            first.run(1)
        before = len(maps_of())
        for _ in range(300):
            r = _runner.InProcessRunner(lib, image, "prog")
            r.run(1)
            del r  # freed by its finalizer
        self.assertLess(len(maps_of()) - before, 10)
        tg = cp.Target()
        for k in range(20):
            tg.compile(y * float(k))
            tg.run()
            self.assertEqual(tg.read_value(x), 0.5)
        self.assertLess(len(maps_of()) - before, 10)

    def test_bad_images_are_rejected_with_the_runtime_message(self) -> None:
        x, n, flag, y, m, acc = program()
        lib, _ = _runner.load_runtime_library("COPAPY_RUNTIME_LIB", _target._runtime_dirs())
        good = self.build(HOST, y=y).read_bytes()
        corrupt = bytearray(good)
        corrupt[60] ^= 1
        relabelled = bytearray(good)
        relabelled[10] = 2 if HOST == "x86_64" else 1  # header target field
        struct.pack_into("<I", relabelled, len(relabelled) - 4, zlib.crc32(bytes(relabelled[:-4])))
        other = "aarch64" if HOST == "x86_64" else "x86_64"
        cases = {
            b"": "image is truncated",
            b"not an image at all, long enough for a header........": "bad magic: not a copapy image",
            bytes(corrupt): "checksum mismatch: the image is corrupted",
            good[:-10]: "image is truncated",
            bytes(relabelled): f"image is for {other}, but this runner executes {HOST} code",
            self.build(FOREIGN, y=y).read_bytes(): f"image is for {FOREIGN}, but this runner executes {HOST} code",
        }
        for data, message in cases.items():
            with self.subTest(message=message, size=len(data)):
                with self.assertRaisesRegex(RuntimeError, f"^cannot load where: {message}$"):
                    _runner.InProcessRunner(lib, data, "where")
        # Through a Target: compile() reports a bad image itself (here: the compiler's output corrupted).
        tg = cp.Target()
        with mock.patch.object(_target, "InProcessRunner",
                               side_effect=lambda lib, data, where: _runner.InProcessRunner(lib, data[:50], where)):
            with self.assertRaisesRegex(RuntimeError, r"cannot load .*program.cpimg: image is truncated"):
                tg.compile(y)

    def test_reads_see_the_last_run(self) -> None:
        """Inputs written after a run do not show in read_value before the next run (as with coparun)."""
        x, n, flag, y, m, acc = program()
        tg = cp.Target()
        tg.compile(y, acc)
        with self.assertRaisesRegex(RuntimeError, "no results yet: call run"):
            tg.read_value(y)
        tg.write_value(x, 1.0)
        tg.run()
        tg.write_value(x, 100.0)
        tg.write_value(acc, 50.0)
        self.assertEqual((tg.read_value(x), tg.read_value(y), tg.read_value(acc)), (1.0, 5.0, 1.0))
        tg.run()
        self.assertEqual((tg.read_value(x), tg.read_value(y), tg.read_value(acc)), (100.0, 203.0, 150.0))


# ---- Serving runners: failures ------------------------------------------------------------

FAKE = """
import json, subprocess, sys, time
mode, image = {mode!r}, sys.argv[1]
if mode == "exit":
    sys.stderr.write("fake-runner: boom\\n")
    sys.exit(3)
# The real runner tells the outputs of the image, so that 'get' lists them all.
listing = subprocess.run([{real!r}, image], capture_output=True, text=True, check=True).stdout.strip()
count = len(json.loads(listing))
out = sys.stdout
out.write("hello\\n" if mode == "greeting" else "ready 2\\n")
out.flush()
for line in sys.stdin:
    words = line.split()
    if mode == "silent":
        time.sleep(3600)
    if words[0] == "get":
        out.write("ok " + listing + "\\n")
    elif mode == "garbage":
        out.write("%$#@ garbage\\n")
    elif mode == "short" and words[0] == "bits":
        out.write("ok 3f800000\\n")
    elif mode == "error":
        out.write("error: fake refusal\\n")
    elif words[0] == "bits":
        out.write("ok" + " 3f800000" * count + "\\n")   # every output 1.0 (as binary32)
    else:
        out.write("ok\\n")
    out.flush()
"""


class ServeFailures(Case):
    def fake(self, mode: str) -> str:
        path = self.tmp / f"fake-coparun-{mode}"
        path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(FAKE.format(mode=mode, real=self.run_tool)))
        path.chmod(0o755)
        return str(path)

    def served_target(self, *values: Any) -> cp.Target:
        tg = cp.Target(runner="serve")
        tg.compile(*values)
        return tg

    def test_the_fake_runner_works_when_it_behaves(self) -> None:
        """The stand-in is faithful enough that the failures below are its only difference."""
        x, n, flag, y, m, acc = program()
        os.environ["COPAPY_RUN"] = self.fake("good")
        tg = self.served_target(y, acc)
        tg.write_value(x, 3.0)
        tg.run()
        self.assertEqual((tg.read_value(y), tg.read_value(acc)), (1.0, 1.0))

    def test_malformed_and_missing_replies(self) -> None:
        x, n, flag, y, m, acc = program()
        cases = {
            "garbage": r"fake-coparun-garbage \(.*\) replied b'%\$#@ garbage' to 'run', which is not 'ok ...' or "
                       r"'error: ...' \(killed by signal SIGKILL\)",
            "greeting": r"is not a coparun --serve speaking protocol 2: it printed b'hello' instead of 'ready 2'",
            "short": r"replied '3f800000' to 'bits', expected [2-9] hex values of 8 digits",
            "error": r"fake-coparun-error .* rejected 'run': fake refusal",
            "exit": r"fake-coparun-exit \(.*\) exited unexpectedly \(exit status 3\); "
                    r"its stderr:\nfake-runner: boom",
        }
        for mode, pattern in cases.items():
            with self.subTest(mode=mode):
                os.environ["COPAPY_RUN"] = self.fake(mode)
                tg = self.served_target(y, acc)
                started = time.monotonic()
                with self.assertRaisesRegex(RuntimeError, pattern):
                    tg.run()
                self.assertLess(time.monotonic() - started, 10)
                # Once broken, always broken (until the next compile), with the first error.
                with self.assertRaisesRegex(RuntimeError, "the runner cannot be used any more: .*" + pattern[:20]):
                    tg.run()
                self.assertIsNotNone(tg._runner._proc.poll(), "the broken runner was left running")

    def test_a_silent_runner_times_out(self) -> None:
        x, n, flag, y, m, acc = program()
        os.environ["COPAPY_RUN"] = self.fake("silent")
        os.environ["COPAPY_RUNNER_TIMEOUT"] = "0.5"
        tg = self.served_target(y)
        started = time.monotonic()
        with self.assertRaisesRegex(RuntimeError, r"did not answer within 0.5 s \(COPAPY_RUNNER_TIMEOUT\); killed it "
                                                  r"\(killed by signal SIGKILL\)"):
            tg.run()
        self.assertLess(time.monotonic() - started, 5)
        os.environ["COPAPY_RUNNER_TIMEOUT"] = "soon"
        with self.assertRaisesRegex(ValueError, "COPAPY_RUNNER_TIMEOUT=soon is not a positive number"):
            self.served_target(y).run()

    def test_a_runner_killed_mid_run(self) -> None:
        x, n, flag, y, m, acc = program()
        for arch in (FOREIGN, HOST):
            with self.subTest(arch=arch):
                tg = cp.Target(arch, runner="serve")
                tg.compile(y, acc)
                tg.run()
                pid = tg._runner._proc.pid
                # Far more runs than can finish: the kill lands while the runner is running them.
                killer = threading.Timer(0.5, os.kill, (pid, signal.SIGKILL))
                killer.start()
                started = time.monotonic()
                try:
                    with self.assertRaisesRegex(RuntimeError, r"exited unexpectedly \(killed by signal SIGKILL\)"):
                        tg.run(10 ** 10)
                finally:
                    killer.cancel()
                self.assertLess(time.monotonic() - started, 10)
                with self.assertRaisesRegex(RuntimeError, "cannot be used any more"):
                    tg.run()
                tg.compile(y, acc)  # a new program, a new runner
                tg.run()
                self.assertEqual(tg.read_value(acc), 0.5)

    def test_an_interrupted_request_retires_the_runner(self) -> None:
        """Ctrl-C during a run: the replies still coming must not be taken for the next request's."""
        import _thread
        x, n, flag, y, m, acc = program()
        tg = cp.Target(FOREIGN)
        tg.compile(y, acc)
        tg.run()
        proc = tg._runner._proc
        interrupt = threading.Timer(0.5, _thread.interrupt_main)
        interrupt.start()
        try:
            with self.assertRaises(KeyboardInterrupt):
                tg.run(10 ** 10)
        finally:
            interrupt.cancel()
        with self.assertRaisesRegex(RuntimeError, r"cannot be used any more: a request was interrupted "
                                                  r"\(KeyboardInterrupt\); compile\(\) again"):
            tg.run()
        self.assertIsNotNone(proc.wait(timeout=10))
        tg.compile(y, acc)
        tg.run()
        self.assertEqual(tg.read_value(acc), 0.5)

    def test_the_runner_exits_when_python_goes_away(self) -> None:
        script = textwrap.dedent(f"""
            import os, sys
            sys.path.insert(0, {str(REPO / 'tools' / 'python')!r})
            import copapy as cp
            x = cp.value(1.0, name="x")
            tg = cp.Target({FOREIGN!r})
            tg.compile(x * 2.0)
            tg.run()
            print(tg._runner._proc.pid, flush=True)
            os.kill(os.getpid(), 9)   # no clean-up of any kind
        """)
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, -signal.SIGKILL, proc.stderr)
        pid = int(proc.stdout.split()[0])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
            except (FileNotFoundError, ProcessLookupError):
                break
            if state == "Z":  # exited; not reaped where init does not reap
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            self.fail(f"the runner {pid} was still running 10 s after its Python process died")


# ---- Semantics on every runner -------------------------------------------------------------

RUNNERS = [(None, "inprocess"), (None, "serve"), (None, "process"), (FOREIGN, "serve"), (FOREIGN, "process")]


class Semantics(Case):
    def reference(self, periods: List[Dict[str, Any]]) -> List[Tuple[float, int, float]]:
        """(y, m, acc) after each period of program(), in Python (int32 negation wraps, binary32
        overflows to infinity)."""
        state = {"x": 0.5, "n": 3, "flag": True}
        acc, out = 0.0, []
        for p in periods:
            state.update(p)
            x, n = f32(state["x"]), state["n"]
            acc = f32(acc + x)
            out.append((f32(f32(x * 2.0) + n), n if state["flag"] else (-n + 2 ** 31) % 2 ** 32 - 2 ** 31, acc))
        return out

    def test_run_n_and_batches_equal_single_runs(self) -> None:
        x, n, flag, y, m, acc = program()
        names = {"x": x, "n": n, "flag": flag}
        periods = [{"x": 1.0}, {}, {"x": -2.5, "n": 7}, {"flag": False}, {"n": -(2 ** 31)}, {}, {"x": 1e30},
                   {"flag": 1, "x": 3}, {"x": -math.inf}, {"x": 2.0, "n": 5}]
        want = self.reference(periods)
        for arch, kind in RUNNERS:
            with self.subTest(arch=arch, runner=kind):
                single = cp.Target(arch, runner=kind)
                single.compile(y, m, acc)
                got_single = []
                for p in periods:
                    for k, v in p.items():
                        single.write_value(names[k], v)
                    single.run()
                    got_single.append((single.read_value(y), single.read_value(m), single.read_value(acc)))
                self.assertEqual(got_single, want)

                batched = cp.Target(arch, runner=kind)
                batched.compile(y, m, acc)
                got = batched.run_batch([{names[k]: v for k, v in p.items()} for p in periods], [y, m, acc])
                self.assertEqual([tuple(r) for r in got], want)
                self.assertEqual(batched.run_batch([{x: 1.0, n: 3}, {x: 2.0}], y), [5.0, 7.0])
                # Afterwards the Target is where the single runs would have left it.
                self.assertEqual((batched.read_value(acc), batched.read_value(x)), (f32(want[-1][2] + 3.0), 2.0))
                self.assertEqual(batched.run_batch([], y), [])
                # run(n): n periods with the inputs as they are.
                batched.run(5)
                self.assertEqual(batched.read_value(acc), f32(want[-1][2] + 3.0 + 2.0 * 5))

    def test_bad_batches_run_nothing(self) -> None:
        x, n, flag, y, m, acc = program()
        for arch, kind in RUNNERS:
            with self.subTest(arch=arch, runner=kind):
                tg = cp.Target(arch, runner=kind)
                tg.compile(y, acc)
                with self.assertRaisesRegex(TypeError, "run_batch\\(\\): period 2: input 'n' is an int; expected "
                                                       "a Python int, not float"):
                    tg.run_batch([{x: 1.0}, {}, {n: 1.5}], acc)
                with self.assertRaisesRegex(OverflowError, "period 0: value 2147483648 for input 'n' does not fit"):
                    tg.run_batch([{n: 2 ** 31}], acc)
                with self.assertRaisesRegex(ValueError, "period 1: write_value\\(\\) needs an input"):
                    tg.run_batch([{}, {y: 1.0}], acc)
                with self.assertRaisesRegex(TypeError, "period 0 must be a mapping"):
                    tg.run_batch([[x, 1.0]], acc)  # type: ignore[list-item]
                with self.assertRaisesRegex(ValueError, "not part of the compiled program"):
                    tg.run_batch([{x: 1.0}], cp.value(1.0) * 3.0)
                with self.assertRaisesRegex(TypeError, "read_value\\(\\) takes copapy values"):
                    tg.run_batch([{x: 1.0}], "y")
                with self.assertRaisesRegex(RuntimeError, "no results yet"):
                    tg.read_value(acc)  # nothing ran
                tg.run()
                self.assertEqual(tg.read_value(acc), 0.5)
                for bad, error in ((0, ValueError), (-3, ValueError), (1.5, TypeError), (True, TypeError),
                                   ("2", TypeError)):
                    with self.assertRaises(error):
                        tg.run(bad)  # type: ignore[arg-type]

    def test_containers_in_batches_and_bulk_writes(self) -> None:
        v = cp.vector([cp.value(float(i), name=f"v{i}") for i in range(4)])
        w = cp.vector([cp.value(1.0, name=f"w{i}") for i in range(4)])
        k = cp.vector([cp.value(1, name=f"k{i}") for i in range(3)])
        s = v @ w
        t = k.sum()
        u = v * 2.0
        for arch, kind in RUNNERS:
            with self.subTest(arch=arch, runner=kind):
                tg = cp.Target(arch, runner=kind)
                tg.compile(s, t, u)
                rows = tg.run_batch([{v: [1.0, 2.0, 3.0, 4.0]}, {w: cp.vector([0.5] * 4), k: (1, 2, 3)},
                                     {v: [math.inf, -math.inf, 0.1, 2]}, {v: (math.inf, 1.0, 0.5, -math.inf)}],
                                    [s, t, u])
                self.assertEqual(rows[3][2].tolist(), [math.inf, 2.0, 1.0, -math.inf])

                def refilled() -> Any:  # one list, refilled for every period (a generator of periods)
                    buf = [0.0] * 4
                    for j in range(3):
                        buf[0] = float(j)
                        yield {v: buf, k: [j, j, j]}
                self.assertEqual(tg.run_batch(refilled(), [s, t]), [[0.0, 0], [0.5, 3], [1.0, 6]])  # w is 0.5
                self.assertEqual(rows[0][:2], [10.0, 3])
                self.assertEqual(rows[1][:2], [5.0, 6])
                self.assertTrue(math.isnan(rows[2][0]))  # inf - inf
                self.assertIsInstance(rows[2][2], cp.vector)
                self.assertEqual(rows[2][2].tolist(), [math.inf, -math.inf, f32(f32(0.1) * 2.0), 4.0])
                # write_value of whole containers: plain lists, tuples, ints, and the checked path for the rest.
                tg.write_value(v, (1, 2, 3, 4.5))
                tg.write_value(k, [4, 5, 6])
                tg.run()
                self.assertEqual((tg.read_value(s), tg.read_value(t)), (5.25, 15))
                with self.assertRaisesRegex(OverflowError, "value 2147483648 for input 'k1' does not fit"):
                    tg.write_value(k, [1, 2 ** 31, 3])
                with self.assertRaisesRegex(ValueError, "elements must be copapy values or Python numbers, not str"):
                    tg.write_value(v, [1.0, 2.0, "3", 4.0])
                with self.assertRaisesRegex(TypeError, "input 'k1' is an int; expected a Python int, not float"):
                    tg.write_value(k, [1, 2.5, 3])
                with self.assertRaisesRegex(ValueError, "shape \\(4,\\) got data of shape \\(3,\\)"):
                    tg.write_value(v, [1.0, 2.0, 3.0])
                tg.run()  # a refused container write changed nothing: all or none
                self.assertEqual((tg.read_value(s), tg.read_value(t)), (5.25, 15))
                tg.write_value(v, [True, 2, 3.0, 4])   # bools are numbers for float inputs, as before
                tg.run()
                self.assertEqual(tg.read_value(u).tolist(), [2.0, 4.0, 6.0, 8.0])

    def test_floats_beyond_binary32_are_refused(self) -> None:
        # As coparun --set refuses 1e39 ("out of float range"), so does every
        # write path of every runner, instead of writing an infinity; inf
        # itself is still a value. Nothing of a refused write is written.
        x, n, flag, y, m, acc = program()
        anon = cp.value(0.5)  # never named: messages describe it
        z = anon * 3.0
        v = cp.vector([cp.value(float(i), name=f"v{i}") for i in range(4)])
        s = v.sum()
        big = "out of float range \\(binary32: the largest finite value is 3.4028234663852886e\\+38\\)"
        for arch, kind in RUNNERS:
            with self.subTest(arch=arch, runner=kind):
                tg = cp.Target(arch, runner=kind)
                tg.compile(y, z, s)
                for bad in (1e39, -1e39, 3.5e38, 10 ** 39):
                    with self.assertRaisesRegex(OverflowError, f"for input 'x' is {big}"):
                        tg.write_value(x, bad)
                with self.assertRaisesRegex(OverflowError, f"for input 'v1' is {big}"):
                    tg.write_value(v, [1.0, 1e39, 2.0, 3.0])
                with self.assertRaisesRegex(OverflowError, f"for input 'v2' is {big}"):
                    tg.write_value(v, (1, 2, 1e39, 3))
                with self.assertRaisesRegex(OverflowError, f"run_batch\\(\\): .*for input 'x' is {big}"):
                    tg.run_batch([{x: 1.0}, {x: 1e39}], y)
                with self.assertRaisesRegex(OverflowError, f"run_batch\\(\\): .*for input 'v3' is {big}"):
                    tg.run_batch([{v: [1.0, 2.0, 3.0, -1e39]}], s)
                # The input the user never named: its repr and its DAG node, not only 'in_0'.
                with self.assertRaisesRegex(OverflowError, "for input 'in_[0-9]+' \\(<copapy value: input float = "
                                                           "0.5>, DAG node [0-9]+\\) is out of float range"):
                    tg.write_value(anon, 1e39)
                with self.assertRaisesRegex(OverflowError, "input 'in_[0-9]+' \\(<copapy value: input float = 0.5>"):
                    tg.run_batch([{anon: 1e39}], z)
                with self.assertRaisesRegex(TypeError, "input 'in_[0-9]+' \\(<copapy value: input float = 0.5>, "
                                                       "DAG node [0-9]+\\) is a float; expected a Python number"):
                    tg.write_value(anon, "1")
                tg.run()
                self.assertEqual((tg.read_value(y), tg.read_value(z), tg.read_value(s)), (4.0, 1.5, 6.0))
                tg.write_value(x, 3.4028235e38)  # rounds to the largest float: fine
                tg.write_value(v, [math.inf, 0.0, 0.0, 0.0])
                tg.run()
                self.assertEqual((tg.read_value(y), tg.read_value(s)), (math.inf, math.inf))

    def test_recompiling_replaces_the_program(self) -> None:
        x, n, flag, y, m, acc = program()
        z = x + 100.0
        for arch, kind in RUNNERS:
            with self.subTest(arch=arch, runner=kind):
                tg = cp.Target(arch, runner=kind)
                tg.compile(y, acc)
                tg.write_value(x, 2.0)
                tg.run(3)
                self.assertEqual((tg.read_value(y), tg.read_value(acc)), (7.0, 6.0))
                old = tg._runner
                old_proc = getattr(old, "_proc", None)
                tg.compile(z, acc)
                tg.run()
                # New results; every input and state back at its initial value.
                self.assertEqual((tg.read_value(z), tg.read_value(acc), tg.read_value(x)), (100.5, 0.5, 0.5))
                with self.assertRaisesRegex(ValueError, "not part of the compiled program"):
                    tg.read_value(y)
                if old_proc is not None:
                    self.assertIsNotNone(old_proc.poll(), "the old program's runner is still running")
                if kind == "inprocess":
                    self.assertIsNone(old._handle)
                tg.close()
                with self.assertRaisesRegex(RuntimeError, "nothing to run: call compile"):
                    tg.run()

    def test_two_targets_at_once(self) -> None:
        x, n, flag, y, m, acc = program()
        host, foreign = cp.Target(), cp.Target(FOREIGN)
        host.compile(y, acc)
        foreign.compile(y, acc)
        for k in range(12):
            a, b = float(k), float(-k) / 4
            host.write_value(x, a)
            foreign.write_value(x, b)
            (foreign if k % 2 else host).run()
            (host if k % 2 else foreign).run()
            self.assertEqual(host.read_value(y), f32(a * 2 + 3))
            self.assertEqual(foreign.read_value(y), f32(b * 2 + 3))
        self.assertEqual(host.read_value(acc), sum(range(12)))
        self.assertEqual(foreign.read_value(acc), -sum(range(12)) / 4)
        self.assertEqual((host._runner.kind, foreign._runner.kind), ("inprocess", "serve"))

    def test_columns_equal_rows(self) -> None:
        x, n, flag, y, m, acc = program()
        v = cp.vector([cp.value(float(i), name=f"v{i}") for i in range(3)])
        dot = v @ cp.vector([1.0, 2.0, 4.0])
        xs = [1.0, -2.5, 1e30, 3, -0.0, 2.0, 1e-45, 7]           # floats and ints for a float input
        ns = [0, 7, -(2 ** 31), 2 ** 31 - 1, 5, -1, 2, True]      # a bool is an int (as in write_value)
        flags = [True, False, False, True, True, False, True, False]
        vs = [[1.0, 2.0, 3.0], (0.5, 0.25, 0.125), cp.vector([1, 2, 3]), [0.0] * 3, [math.inf, 0.0, 0.0],
              [2.0, 2.0, 2.0], [3.0, 1.0, 0.0], [-1.0, -2.0, -3.0]]
        rows = [{x: a, n: b, flag: c, v: d} for a, b, c, d in zip(xs, ns, flags, vs)]
        want = self.reference([{"x": a, "n": b, "flag": c} for a, b, c in zip(xs, ns, flags)])
        for arch, kind in RUNNERS:
            with self.subTest(arch=arch, runner=kind):
                by_rows = cp.Target(arch, runner=kind)
                by_rows.compile(y, m, acc, dot)
                expected = by_rows.run_batch(rows, [y, m, acc, dot])
                self.assertEqual([tuple(r[:3]) for r in expected], want)
                tg = cp.Target(arch, runner=kind)
                tg.compile(y, m, acc, dot)
                got = tg.run_batch({x: xs, n: ns, flag: flags, v: vs}, [y, m, acc, dot])
                self.assertEqual(got, expected)
                self.assertEqual([type(r[1]) for r in got], [int] * len(xs))
                self.assertEqual(tg.read_value(acc), want[-1][2])    # reads see the last period
                self.assertEqual(tg.read_value(n), 1)
                # One output: a flat list; a tree: one tree per period; no columns: periods=.
                self.assertEqual(tg.run_batch({x: (1.0, 2.0)}, y), [f32(2.0 + 1), f32(4.0 + 1)])
                self.assertEqual(tg.run_batch({flag: [False]}, [m, (y, 7)]), [[-1, [5.0, 7]]])
                self.assertEqual(tg.run_batch({}, acc, periods=3),
                                 [f32(want[-1][2] + 3.0 + 2.0 * k) for k in (1, 2, 3)])
                self.assertEqual(tg.run_batch({x: []}, [y, acc]), [])
                self.assertEqual(tg.run_batch({}, [y, acc], periods=0), [])
                # run_columns: the same periods, the outputs as one list per value.
                again = cp.Target(arch, runner=kind)
                again.compile(y, m, acc, dot)
                cols = again.run_columns({x: xs, n: ns, flag: flags, v: vs}, (y, m, acc, dot))
                self.assertEqual(cols, [list(c) for c in zip(*expected)])
                self.assertEqual(again.run_columns({x: [1.0, 2.0]}, y), [f32(2.0 + 1), f32(4.0 + 1)])
                self.assertEqual(again.run_columns({}, cp.vector([y, acc]), periods=1), [[5.0], [f32(want[-1][2] + 3.0)]])
                with self.assertRaisesRegex(TypeError, "run_columns\\(\\) reads a copapy value, a list"):
                    again.run_columns({x: [1.0]}, [y, [acc]])
                with self.assertRaisesRegex(ValueError, "run_columns\\(\\): the column of .* has 2 items"):
                    again.run_columns({x: [1.0], n: [1, 2]}, y)

    def test_bad_columns_run_nothing(self) -> None:
        x, n, flag, y, m, acc = program()
        v = cp.vector([cp.value(float(i)) for i in range(2)])
        s = v.sum()
        for arch, kind in RUNNERS:
            with self.subTest(arch=arch, runner=kind):
                tg = cp.Target(arch, runner=kind)
                tg.compile(y, m, acc, s)
                with self.assertRaisesRegex(TypeError, "run_batch\\(\\): period 2: input 'n' is an int; expected "
                                                       "a Python int, not float"):
                    tg.run_batch({n: [1, 2, 1.5], x: [1.0, 2.0, 3.0]}, acc)
                with self.assertRaisesRegex(OverflowError, "period 1: value 2147483648 for input 'n' does not fit"):
                    tg.run_batch({n: [0, 2 ** 31]}, acc)
                with self.assertRaisesRegex(TypeError, "period 0: input 'flag' is a bool; expected True, False"):
                    tg.run_batch({flag: [2]}, acc)
                with self.assertRaisesRegex(ValueError, "the column of .* has 1 items for 2 periods"):
                    tg.run_batch({x: [1.0, 2.0], n: [1]}, acc)
                with self.assertRaisesRegex(ValueError, "period 0: write_value\\(\\) for a vector of shape \\(2,\\)"):
                    tg.run_batch({v: [[1.0, 2.0, 3.0]]}, acc)
                with self.assertRaisesRegex(TypeError, "the column of .* must be a sequence"):
                    tg.run_batch({x: 1.0}, acc)
                with self.assertRaisesRegex(ValueError, "period 0: write_value\\(\\) needs an input"):
                    tg.run_batch({y: [1.0]}, acc)
                with self.assertRaisesRegex(ValueError, "no columns: say how many periods"):
                    tg.run_batch({}, acc)
                with self.assertRaisesRegex(ValueError, "periods must be a whole number"):
                    tg.run_batch({}, acc, periods=-1)
                with self.assertRaisesRegex(TypeError, "periods= goes with a mapping of columns"):
                    tg.run_batch([{x: 1.0}], acc, periods=1)
                with self.assertRaisesRegex(ValueError, "not part of the compiled program"):
                    tg.run_batch({x: [1.0]}, cp.value(1.0) * 3.0)
                with self.assertRaisesRegex(RuntimeError, "no results yet"):
                    tg.read_value(acc)  # nothing ran
                self.assertEqual(tg.run_batch({v: [[1.0, 2.0]]}, s), [3.0])

    def test_long_columns_are_split_into_requests(self) -> None:
        x, n, flag, y, m, acc = program()
        tg = cp.Target(FOREIGN)
        tg.compile(y, acc)
        tg.write_value(n, 4)  # sent with the first request
        with mock.patch.object(_runner, "_LINE_BUDGET", 2000):  # about 240 periods per request
            got = tg.run_batch({x: [float(k) for k in range(1000)]}, [y, acc])
        self.assertEqual(len(got), 1000)
        self.assertEqual(got[999], [f32(999.0 * 2 + 4), f32(sum(range(1000)))])
        self.assertEqual(tg.read_value(acc), f32(sum(range(1000))))
        big = tg.run_batch({x: [1.0] * 300_000}, acc)  # 2.4 MB of hex: three requests
        self.assertEqual(big[-1], f32(sum(range(1000)) + 300_000.0))

    def test_long_batches_are_split_into_requests(self) -> None:
        x, n, flag, y, m, acc = program()
        tg = cp.Target(FOREIGN)
        tg.compile(y, acc)
        with mock.patch.object(_runner, "_LINE_BUDGET", 2000):  # about 80 periods per request
            got = tg.run_batch([{x: float(k)} for k in range(1000)], [y, acc])
        self.assertEqual(len(got), 1000)
        self.assertEqual(got[999], [f32(999.0 * 2 + 3), f32(sum(range(1000)))])
        self.assertEqual(tg.read_value(acc), f32(sum(range(1000))))
        big = tg.run_batch([{x: 1.0}] * 10_000, acc)  # 10,000 periods in one call
        self.assertEqual(big[-1], f32(sum(range(1000)) + 10_000.0))


if __name__ == "__main__":
    unittest.main()
