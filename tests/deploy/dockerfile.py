"""Dockerfile and .dockerignore read as the Docker builder reads them (the subset deploy/ uses)."""

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

_HEREDOC = re.compile(r"<<-?['\"]?([A-Za-z_]+)['\"]?")


@dataclass(frozen=True)
class Instruction:
    stage: int
    keyword: str
    arguments: str

    def words(self) -> list[str]:
        return shlex.split(self.arguments)


def parse_dockerfile(text: str) -> list[Instruction]:
    instructions: list[Instruction] = []
    stage = -1
    lines = iter(text.splitlines())
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        while line.rstrip().endswith("\\"):
            line = line.rstrip()[:-1] + " " + next(lines).strip()
        heredoc = _HEREDOC.search(line)
        if heredoc:
            body = []
            for inner in lines:
                if inner.strip() == heredoc.group(1):
                    break
                body.append(inner)
            line = line + "\n" + "\n".join(body)
        keyword, _, arguments = line.strip().partition(" ")
        if keyword.upper() == "FROM":
            stage += 1
        instructions.append(Instruction(stage, keyword.upper(), arguments.strip()))
    return instructions


def _glob_regex(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out.append(pattern[i : end + 1])
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


def _pattern_matches(pattern: str, path: str) -> bool:
    """A pattern matches a path or any of its parent folders."""
    regex = _glob_regex(pattern.strip("/"))
    parts = path.split("/")
    return any(re.fullmatch(regex, "/".join(parts[:i])) for i in range(1, len(parts) + 1))


def in_build_context(path: str, dockerignore: str) -> bool:
    """Whether `path` (relative to the context root) survives .dockerignore; the last match wins."""
    included = True
    for raw in dockerignore.splitlines():
        rule = raw.strip()
        if not rule or rule.startswith("#"):
            continue
        negated = rule.startswith("!")
        if _pattern_matches(rule.lstrip("!"), path):
            included = negated
    return included


def copied_sources(instructions: list[Instruction]) -> list[str]:
    """Sources of COPY instructions that read the build context (not another stage)."""
    sources: list[str] = []
    for ins in instructions:
        if ins.keyword != "COPY":
            continue
        words = ins.words()
        if any(w.startswith("--from") for w in words):
            continue
        paths = [w for w in words if not w.startswith("--")]
        sources.extend(paths[:-1])  # the last one is the destination
    return sources


def context_files(root: Path, dockerignore: str) -> list[str]:
    return sorted(
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and ".git" not in path.parts and ".venv" not in path.parts
        and in_build_context(str(path.relative_to(root)), dockerignore)
    )
