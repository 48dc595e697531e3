"""Errors shared across the core. Control flow between the agent loop and its callers uses these."""


class AlphalabError(Exception):
    """Base class: a user-facing error with a message that says what to fix."""


class ConfigError(AlphalabError):
    """A campaign config is invalid. The message names the file and the field."""


class AdapterError(AlphalabError):
    """An adapter is invalid. Carries every problem found, not just the first."""

    def __init__(self, problems: list[str], where: str = "adapter"):
        self.problems = list(problems)
        super().__init__(f"{where}: {len(self.problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in self.problems))


class SandboxUnavailable(AlphalabError):
    """The configured sandbox cannot be used on this machine."""


class BudgetExhausted(AlphalabError):
    """A USD / token / step / time budget ran out. Work done so far is saved."""


class PhaseFailed(AlphalabError):
    """A phase could not complete; the message says what is missing."""
