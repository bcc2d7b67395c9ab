"""The realtime example's control period (examples/bare-metal/realtime.c).

The firmware runs this program from a timer interrupt at a fixed rate. The
build binds its inputs and outputs to the board's device registers
(copapy_add_program(... BIND ...), copapy-cc build --bind), so the program
reads and writes them itself, once per period:

  counter  a free-running counter (mps2-an386: the FPGA's 25 MHz COUNTER;
           virt: the low word of the CLINT's mtime, 10 MHz)
  uart     the UART's data register: one digit per period, '0' + period % 10
  leds     the board's two user LEDs (mps2-an386; virt has none, so there it
           is an ordinary output the firmware reads from the data region)

`rate` follows the counter's increase per period through a first-order
low-pass filter (the firmware prints it as a check of the arithmetic).
"""
import sys

import copapy as cp

counter = cp.value(0, name="counter")
period = cp.state(0, name="period")   # periods run so far
last = cp.state(0, name="last")       # the counter one period ago
rate = cp.state(0.0, name="rate")     # filtered counter increase per period

# Modular on purpose: a wrapping counter's difference is right across the
# wrap (copapy-cc's range analysis warns that it may wrap: it does).
delta = counter - last
# The first period has no previous counter value, the second starts the
# filter at its increase, later ones follow it with gain 1/8.
filtered = cp.iif(period == 0, 0.0, cp.iif(period == 1, delta * 1.0, rate + 0.125 * (delta - rate)))
rate.next(filtered)
last.next(counter)
period.next(period + 1)

cp.export(sys.argv[1], uart=48 + period % 10, leds=period % 4, filtered=filtered)
