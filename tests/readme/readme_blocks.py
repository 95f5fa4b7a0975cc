"""The fenced code blocks of README.md, as tests/readme runs them.

Conventions (the README follows them; this module enforces them):
- ```sh (bash, shell) and ```python blocks are run as written, in README order.
- A ```text block right after one of them (at most 3 lines of prose between) is what that block prints: it is
  compared.
- An sh or python block that cannot run in a test (docker, RunPod, the test suite itself, a synopsis) has the line
  `<!-- readme-test: skip: <reason> -->` right before its fence; the reason is reported by the test. An sh or
  python block without it is run: nothing is left out silently.
- Blocks in other languages (json, yaml, ...) and other text blocks are shown, not run; the test lists them.
"""

import re
from dataclasses import dataclass

RUNNABLE = {"sh": "sh", "bash": "sh", "shell": "sh", "python": "python", "py": "python"}
SKIP_MARK = re.compile(r"^<!--\s*readme-test:\s*skip:\s*(\S.*?)\s*-->\s*$")
FENCE = re.compile(r"^```(\S*)\s*$")


@dataclass
class Block:
    lang: str  # "sh", "python", or another language that is not run
    code: str
    line: int  # 1-based line of the opening fence
    section: str  # the nearest heading above it
    skip_reason: str | None = None
    expected: str | None = None  # the following ```text block, if any

    @property
    def name(self) -> str:
        return f"README.md:{self.line} ({self.lang}, {self.section})"


class ReadmeError(ValueError):
    pass


def parse(text: str) -> list[Block]:
    """Every fenced block, with text blocks attached to the runnable block they show the output of."""
    lines = text.split("\n")
    blocks: list[Block] = []
    section = "(top)"
    pending_skip: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            section = line.lstrip("#").strip()
        mark = SKIP_MARK.match(line)
        fence = FENCE.match(line)
        if mark:
            pending_skip = mark.group(1)
            i += 1
            continue
        if not fence:
            if pending_skip is not None:
                raise ReadmeError(f"README.md:{i}: a readme-test skip mark must be right before a ``` fence")
            i += 1
            continue
        lang = fence.group(1)
        start = i
        i += 1
        body = []
        while i < len(lines) and lines[i] != "```":
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise ReadmeError(f"README.md:{start + 1}: the ``` block is never closed")
        i += 1
        code = "\n".join(body) + "\n"
        owner = blocks[-1] if blocks else None
        if (lang == "text" and pending_skip is None and owner is not None and owner.lang in ("sh", "python")
                and owner.expected is None and _prose_lines_between(lines, owner, start) <= 3):
            owner.expected = code
        else:
            blocks.append(Block(RUNNABLE.get(lang, lang or "(none)"), code, start + 1, section, pending_skip))
        pending_skip = None
    return blocks


def _prose_lines_between(lines: list[str], owner: Block, start: int) -> int:
    closing_fence = owner.line + owner.code.count("\n")  # its 0-based index
    return sum(1 for line in lines[closing_fence + 1:start] if line.strip())


def shell_commands(code: str) -> list[str]:
    """A sh block's commands: continuation lines joined, blank and comment-only lines dropped."""
    commands = []
    current = ""
    for line in code.split("\n"):
        if current:
            current += "\n" + line
        elif line.strip() and not line.lstrip().startswith("#"):
            current = line
        if current and not current.endswith("\\"):
            commands.append(current)
            current = ""
    if current:
        commands.append(current)
    return commands


def normalized_output(text: str) -> str:
    """Output as compared: trailing spaces of each line and trailing blank lines removed."""
    return "\n".join(line.rstrip() for line in text.rstrip().split("\n"))
