"""Sub-commands whose engines live outside ``streams`` (wired here, implemented there)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    SubParsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    SubParsers = argparse._SubParsersAction

ALL: list[Callable[[SubParsers], None]] = []
