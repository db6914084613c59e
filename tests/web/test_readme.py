"""The README's Python example shows what the code really prints: its ``pycon`` block runs as a doctest."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def pycon_blocks() -> list[str]:
    return re.findall(r"^```pycon\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_readme_python_example_prints_what_the_code_prints():
    blocks = pycon_blocks()
    assert blocks, "the README has no pycon example"
    for i, block in enumerate(blocks):
        test = doctest.DocTestParser().get_doctest(block, {}, f"README pycon block {i}", str(README), 0)
        assert len(test.examples) >= 5
        runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
        out: list[str] = []
        result = runner.run(test, out=out.append)
        assert result.failed == 0, "".join(out)
