"""The one error a user's configuration raises."""


class ConfigError(ValueError):
    """A problem with the user's configuration; its message is one line that says what to fix."""
