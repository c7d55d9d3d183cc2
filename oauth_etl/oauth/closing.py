"""`with owner:` closes what the owner holds: one mixin for the classes with a `close()`.

In the bottom layer so that the token endpoint here and the API client in `xero/` share it.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closing:
    """A context manager whose exit is `close()`; subclasses define `close`."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
