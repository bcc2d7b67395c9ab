"""Target.compile(bind=...): inputs and outputs bound to device registers
(copapy-cc build --bind). The bindings reach the compiler (the manifest
lists them), wrong Python arguments are clear errors, and a bound program
refuses to run off its device instead of touching arbitrary addresses."""
import json
import sys
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "python"))

import copapy as cp  # noqa: E402


class Bind(unittest.TestCase):
    def program(self):
        adc = cp.value(0, name="adc")
        led = adc * 2 + 1
        return adc, led

    def test_bindings_reach_the_manifest(self) -> None:
        adc, led = self.program()
        with cp.Target("thumbv7em") as tg, tempfile.TemporaryDirectory() as d:
            tg.compile(led, bind={adc: (0x4000_1000, 16), led: 0x4000_2000})
            tg.save(Path(d, "m.json"), "manifest")
            bound = json.loads(Path(d, "m.json").read_text())["bound"]
        self.assertEqual([(b["name"], b["direction"], b["address"], b["width"]) for b in bound],
                         [("adc", "input", 0x4000_1000, 16), (bound[1]["name"], "output", 0x4000_2000, 32)])

    def test_names_work_as_keys(self) -> None:
        adc, led = self.program()
        with cp.Target("thumbv7em") as tg, tempfile.TemporaryDirectory() as d:
            tg.compile(led, bind={"adc": 0x4000_1000})
            tg.save(Path(d, "p.h"), "c-header")
            self.assertIn("_BOUND_adc 0x40001000u", Path(d, "p.h").read_text())

    def test_a_bound_program_does_not_run_off_its_device(self) -> None:
        adc, led = self.program()
        with cp.Target() as tg:
            tg.compile(led, bind={adc: 0x1000_0000})
            with self.assertRaisesRegex(RuntimeError, "runs only on its device"):
                tg.run()

    def test_wrong_arguments(self) -> None:
        adc, led = self.program()
        with cp.Target() as tg:
            with self.assertRaisesRegex(TypeError, "bind must be a mapping"):
                tg.compile(led, bind=[adc])
            with self.assertRaisesRegex(TypeError, "the address must be an int"):
                tg.compile(led, bind={adc: "0x1000"})
            with self.assertRaisesRegex(TypeError, r"\(address, width\)"):
                tg.compile(led, bind={adc: (1, 2, 3)})
            with self.assertRaisesRegex(ValueError, "must not be negative"):
                tg.compile(led, bind={adc: -4})
            with self.assertRaisesRegex(ValueError, "neither an input nor an output"):
                tg.compile(led, bind={cp.value(1.0) * 3: 0x1000})
            # What only the compiler knows comes back as its error.
            with self.assertRaisesRegex(RuntimeError, "not aligned for a 32-bit access"):
                tg.compile(led, bind={adc: 0x1002})
            with self.assertRaisesRegex(RuntimeError, "width 12 is not 8, 16 or 32"):
                tg.compile(led, bind={adc: (0x1000, 12)})


if __name__ == "__main__":
    unittest.main()
