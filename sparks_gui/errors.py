"""The one exception type users see.

Every error a user can cause (a bad file, a wrong shape, NaN values, mismatched
lengths, an unknown key) is raised as :class:`SparksError` with a message that
says what was wrong and what to do about it.  The CLI turns it into a non-zero
exit with the message; the GUI shows it as a notification and keeps running.
"""

from __future__ import annotations


class SparksError(ValueError):
    """A problem with the user's input or request, with a fix in the message."""

    def __init__(self, problem: str, fix: str | None = None):
        self.problem = problem
        self.fix = fix
        super().__init__(problem if not fix else f"{problem} Fix: {fix}")


class SparksWarning(UserWarning):
    """Something a user should know about their data that did not stop the work.

    Readers warn with it when they chose for the user (which array holds the activity,
    which axis is time, where the bin width came from) or left something out (variables
    of other lengths, NWB parts that cannot be read).  The CLI prints these warnings as
    ``sparks-gui: warning: ...`` lines and the GUI shows them as notifications.
    """
