"""Translate deltalake, duckdb and polars errors into GovLake errors, in one place.

Callers wrap library calls in :func:`translate`, naming the table involved, so that a
corrupted ``_delta_log`` or a missing table gives a one-line message naming the table
and the fix, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from govlake.errors import GovLakeError, NotFound, TableCorrupt


@contextmanager
def translate(table: str, action: str = "read") -> Iterator[None]:
    """Re-raise library errors about ``table`` as :class:`GovLakeError` subclasses."""
    from deltalake.exceptions import CommitFailedError, DeltaError, DeltaProtocolError, TableNotFoundError

    try:
        yield
    except GovLakeError:
        raise
    except CommitFailedError:  # a concurrent commit won: lake.delta.with_retry retries, then says so
        raise
    except TableNotFoundError as exc:
        raise NotFound(f"table {table} does not exist yet ({action}); run `govlake tables` to list tables") from exc
    except (DeltaProtocolError, DeltaError) as exc:
        detail = _printable(str(exc).splitlines()[0][:300]) if str(exc) else type(exc).__name__
        raise TableCorrupt(
            f"table {table} cannot be {action} ({detail}); run `govlake doctor` to diagnose and fix it"
        ) from exc
    except OSError as exc:
        raise TableCorrupt(
            f"table {table} cannot be {action}: {exc.strerror or exc}; run `govlake doctor`"
        ) from exc
    except Exception as exc:  # polars/duckdb errors reading a damaged table
        name = type(exc).__module__.split(".")[0]
        if name in {"polars", "duckdb", "_duckdb", "pyarrow", "deltalake"}:
            detail = _printable(str(exc).splitlines()[0][:300])
            raise TableCorrupt(
                f"table {table} cannot be {action} ({detail}); run `govlake doctor` to diagnose and fix it"
            ) from exc
        raise


def _printable(text: str) -> str:
    """``text`` with control characters escaped: a damaged file's bytes must not reach the terminal raw."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
