"""Pure values and rules of tgstat: no I/O, no clock, no third-party imports but attrs."""
