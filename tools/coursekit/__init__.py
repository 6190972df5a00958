"""The `course` driver's implementation (Python 3 standard library only)."""
