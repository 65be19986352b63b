"""The project's one exception type for expected failures.

The CLI prints a `SketchcolorError` as a single line and exits non-zero; anything
else is a bug and keeps its traceback.
"""


class SketchcolorError(Exception):
    """An expected failure caused by the user's input (bad file, bad option, missing data)."""
