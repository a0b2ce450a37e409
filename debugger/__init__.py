"""segdebug: a local debugger for Segment-style analytics events."""

__version__ = "0.1.0"
