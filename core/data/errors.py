"""The one error a data set raises: its message says which file (and line) and why."""


class DataError(ValueError):
    """A data set that cannot be used as it is; the message says where and why."""
