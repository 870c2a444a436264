"""User-facing errors, and the "did you mean" hint they often carry.

Everything a user can get wrong (a bad file, an unknown run, an old schema)
raises SeldbError with one line that says what and where; the CLI prints that
line and exits non-zero instead of showing a traceback.
"""

from collections.abc import Sequence


class SeldbError(Exception):
    """An error whose message is meant for the user, as one line."""


class InputError(SeldbError):
    """The input (activation file, CSV, option) is malformed."""


class NotFound(SeldbError):
    """A named run, unit, concept or layer does not exist."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (a timeout, `docker stop`, a scheduler's preemption), handled like Ctrl-C: every
    cleanup a KeyboardInterrupt runs (rollback, temporary files) runs for it too."""


def plural(n: int, word: str, words: str | None = None) -> str:
    """'1 image', '2 images' (or the given plural)."""
    return f"{n:,} {word if n == 1 else words or word + 's'}"


def did_you_mean(name: str, choices: Sequence[str]) -> str:
    """' (did you mean 'fc6'?)' for the closest choices, or '' when none is close."""
    import difflib

    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.6)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
