"""The one error hierarchy of msgen, and the exit codes it maps to.

Exit codes (documented in the README and in ``msgen --help``):

* 0 -- success
* 1 -- the command ran and found problems (lint findings, a stale template)
* 2 -- bad input or usage: a spec that does not validate, a missing file,
  an output that already exists, an unknown blueprint
* 3 -- internal error: a bug in msgen (``--debug`` shows the traceback)
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


class MsgenError(Exception):
    """Root of every error msgen reports to a person. ``str(err)`` is the message."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True, order=True)
class Issue:
    """One problem in a spec, located in its file."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class SpecError(MsgenError):
    """A spec could not be read or does not validate; carries every problem found."""

    def __init__(self, issues: list[Issue]):
        self.issues = sorted(set(issues))
        super().__init__("\n".join(str(i) for i in self.issues))


class InputError(MsgenError):
    """A file or argument that cannot be used (missing, a directory, unknown blueprint)."""


class OutputExistsError(MsgenError):
    """Refusing to overwrite something without --force."""


class SynthError(MsgenError):
    """The spec is valid but cannot become a deployable template (for example, a quota)."""


class QuotaError(SynthError):
    """The single template passes a CloudFormation quota: the service needs nested stacks (generator.synth.nesting).
    ``data`` is the template built, so that splitting it does not build it again; ``env`` its environment."""

    data: dict | None = None
    env: str | None = None
