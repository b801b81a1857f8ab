"""The one exception type for input a user can fix."""


class JCASInputError(ValueError):
    """Bad input: the message says what is wrong and how to fix it."""
