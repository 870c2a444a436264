"""User-facing errors.

Everything a user can get wrong (a bad file, an unknown run, an old schema)
raises SeldbError with one line that says what and where; the CLI prints that
line and exits non-zero instead of showing a traceback.
"""


class SeldbError(Exception):
    """An error whose message is meant for the user, as one line."""


class InputError(SeldbError):
    """The input (activation file, CSV, option) is malformed."""


class NotFound(SeldbError):
    """A named run, unit, concept or layer does not exist."""
