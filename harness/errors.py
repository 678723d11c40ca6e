"""The one exception type a user can cause; the CLI prints it as a single line."""


class PricebenchError(Exception):
    """A problem with the user's input or setup: the message says what is wrong and the fix."""
