"""The example report in docs/examples/ is what the code makes today, and making it twice gives the same bytes."""

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def example_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_report", ROOT / "scripts" / "example_report.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_example_is_current_and_reproducible(tmp_path: Path) -> None:
    script = example_script()
    first = script.make(tmp_path / "a", png=None)
    second = script.make(tmp_path / "b", png=None)
    for fmt, path in first.items():
        assert path.read_bytes() == second[fmt].read_bytes(), f"{fmt} differs between two runs"
    for fmt in ("csv", "html", "xlsx"):  # the PDF's bytes depend on Pango and the font: checked for sameness above
        committed = ROOT / "docs" / "examples" / first[fmt].name
        assert committed.read_bytes() == first[fmt].read_bytes(), f"{committed}: run scripts/example_report.py"
    assert (ROOT / "docs" / "examples" / first["pdf"].name).read_bytes()[:5] == b"%PDF-"
