"""The project's base exception: every user-facing error derives from it, so the
CLI can print its message (which names the file/line, pc or population) and
exit non-zero instead of showing a traceback."""


class FennError(Exception):
    """Base class of every error this project reports to a user."""
