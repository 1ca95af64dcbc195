"""User-facing errors: each carries a one-line message the CLI prints as is."""


class RebuttalError(Exception):
    """Base class for errors shown to the user as one line and a non-zero exit."""


class TargetError(RebuttalError):
    """The target cannot be reviewed (missing, empty, binary, too big...)."""


class ConfigError(RebuttalError):
    """A persona, workflow, profile or option is invalid."""


class ProviderError(RebuttalError):
    """A model provider is misconfigured, unreachable or refused a call."""


class LocalModelError(ProviderError):
    """The embedded local model cannot be assembled, verified or served."""


class BudgetExceeded(RebuttalError):
    """A configured budget (calls, tokens, dollars) would be exceeded."""


class ModelOutputError(ProviderError):
    """A model kept returning output that does not validate."""


class RunBusyError(RebuttalError):
    """Another process (or task) is executing the same run directory."""
