"""The exception types for problems a user can fix (the ``jcas`` command exits with status 2 on each)."""


class JCASInputError(ValueError):
    """Bad input: the message says what is wrong and how to fix it."""


class JCASOutputError(JCASInputError):
    """An output cannot go where it was asked to: onto an input, over an existing file, or into a
    location that cannot be written. The message says what to change, or where the output went instead."""


class JCASNonFiniteError(JCASInputError):
    """NaN or infinite numbers where finite ones are needed: a model's weights or its outputs."""


class JCASWarning(UserWarning):
    """Something the run went on with but the user should know (``jcas`` prints it as ``jcas <command>: warning:``)."""
