"""docs/architecture.md stays a complete module map: each package's section names its modules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAP = ROOT / "docs" / "architecture.md"
PACKAGES = ("shared", "standin", "receiver", "worker", "deploy", "examples")


def sections() -> dict[str, str]:
    """Each ``## <package>/`` section's text, by package."""
    parts = re.split(r"^## ", MAP.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {part.split("/", 1)[0]: part for part in parts[1:] if "/" in part.split("\n", 1)[0]}


def modules(package: str) -> list[str]:
    """The package's modules, as paths relative to it, ``__init__.py`` left out."""
    base = ROOT / package
    return sorted(
        path.relative_to(base).as_posix()
        for path in base.rglob("*.py")
        if path.name != "__init__.py"
    )


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_is_named_in_its_packages_section(package: str) -> None:
    """A module added without a line in the map fails here, named."""
    text = sections()[package]
    missing = [module for module in modules(package) if f"`{module}`" not in text]
    assert missing == []


def test_the_map_names_no_module_that_is_gone() -> None:
    """A ``*.py`` named in a package's section exists in that package."""
    for package, text in sections().items():
        if package not in PACKAGES:
            continue
        named = set(re.findall(r"`([\w/]+\.py)`", text))
        assert named <= set(modules(package)), package
