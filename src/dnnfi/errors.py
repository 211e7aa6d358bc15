"""The error a user causes by the config: one line naming the config key (no framework, no
jsonschema: the design modules raise it in every job's environment)."""


class ConfigError(ValueError):
    """A config the workflow cannot run; the message is one line naming the key."""
