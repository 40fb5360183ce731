"""The one exception type for bad input: its message names the config key and the fix."""


class ConfigError(ValueError):
    """A config value, dataset or machine that cannot run; raised before any expensive work starts."""
