"""hub/domain is pure: it imports no I/O library and no other hub package, and reads no clock."""

import ast
import sys
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "hub" / "domain"
# The standard library minus what reaches outside the process or reads the clock by itself.
FORBIDDEN_STDLIB = {
    "asyncio", "io", "os", "pathlib", "shutil", "socket", "sqlite3", "ssl", "subprocess", "tempfile",
    "threading", "time", "urllib", "http", "logging", "random", "secrets", "select", "selectors",
}  # fmt: skip
CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}


def imported(tree: ast.Module) -> set[str]:
    """Top-level packages and the full module names a module imports."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: stays inside hub.domain
                continue
            names.add(node.module or "")
    return names


def test_nothing_under_hub_domain_imports_io_or_other_hub_packages() -> None:
    files = sorted(DOMAIN.rglob("*.py"))
    assert files, "hub/domain has no modules"
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for name in imported(tree):
            top = name.split(".")[0]
            where = f"{path.relative_to(DOMAIN.parents[1])} imports {name}"
            if top == "hub":
                assert name.startswith("hub.domain"), where
            elif top == "contract":
                continue  # the wire format's pure models
            else:
                assert top in sys.stdlib_module_names, f"{where}: not the standard library"
                assert top not in FORBIDDEN_STDLIB, f"{where}: I/O or a clock"


def test_nothing_under_hub_domain_reads_the_clock_or_opens_files() -> None:
    for path in sorted(DOMAIN.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            assert name not in CLOCK_CALLS, f"{path.name}:{node.lineno} calls {name}(): pass the time in"
            assert name != "open", f"{path.name}:{node.lineno} opens a file"
