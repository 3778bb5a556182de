"""A process that has imported the whole CLI once and forks a child for each `tanhui` command a test runs.

Each child is a process of its own, as `python -m tanhui.cli.main …` is: its own environment, working
folder, standard streams, exit code and atexit handlers; only the interpreter's start and the imports
(~1.5 s of CPU a command on this project's 2-core machines, several hundred commands a run) are shared.
Nothing runs in this process but imports: no thread, no connection, no cache filled (`random` is
re-seeded in every child by CPython itself).

Protocol, one JSON object a line on the file descriptors given as arguments: a request {args, env, cwd,
stdout, stderr} (the two output paths are files the child writes) is answered {"pid"} as soon as the
child runs, then {"status"} (`os.waitstatus_to_exitcode`) when it ends. A request with "spawn" (a
server: stderr null, both streams to the stdout file) is answered {"pid"} only. tests/live.py is the client.
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0] == __import__("os").path.dirname(__file__):
    del sys.path[0]  # this file's folder (tests/) must not shadow an installed module

import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
from typing import Any, NoReturn  # noqa: E402

from tanhui.cli import main as entry  # noqa: E402
from tanhui.cli import output  # noqa: E402


def _child(request: dict[str, Any], files: list[Any], *fds: int) -> NoReturn:
    """Become the command: the zygote's pipes closed, the request's streams, environment, folder and
    arguments, then `main()`, and the interpreter's own exit (atexit, finalisation: SQLite checkpoints a
    closed connection's log, as at the end of any process), which the zygote's loop does not catch."""
    for file in files:
        file.close()
    for fd in fds:
        os.close(fd)
    stdin = os.open(os.devnull, os.O_RDONLY)
    stdout = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    stderr = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600) if request["stderr"] else os.dup(stdout)
    for source, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
        os.dup2(source, target)
        os.close(source)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.argv = [entry.__file__, *request["args"]]
    # as under `python -m tanhui.cli.main`: a worker that multiprocessing spawns imports this module as its main
    sys.modules["__main__"] = entry
    # Rich reads the environment (COLUMNS, NO_COLOR, TERM, …) when a console is made, which the CLI does on import
    output.console.__init__(soft_wrap=True)  # type: ignore[misc]
    output.err_console.__init__(stderr=True, soft_wrap=True)  # type: ignore[misc]
    entry.main()
    sys.exit(0)


def _spawn(request: dict[str, Any], files: list[Any]) -> int:
    """A server: a grandchild in a session of its own (its pid is its process group, as with Popen's
    start_new_session), whose parent ends at once, so this process never waits for it; the client
    watches it through a pidfd."""
    told_r, told_w = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.close(told_r)
        server = os.fork()
        if server == 0:
            os.setsid()
            _child(request, files, told_w)
        os.write(told_w, f"{server}\n".encode())
        os._exit(0)
    os.close(told_w)
    with os.fdopen(told_r, "rb") as told:
        pid = int(told.readline())
    os.waitpid(middle, 0)
    return pid


def serve(requests: int, answers: int) -> None:
    for module in {*entry.GROUPS.values(), *(module for module, _ in entry.COMMANDS.values())}:
        importlib.import_module(f"tanhui.cli.{module}")
    importlib.import_module("tanhui.app")  # what `tanhui serve` runs
    reader = os.fdopen(requests, "r", encoding="utf-8")
    writer = os.fdopen(answers, "w", encoding="utf-8")
    for line in reader:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        if request.get("spawn"):
            writer.write(json.dumps({"pid": _spawn(request, [reader, writer])}) + "\n")
            writer.flush()
            continue
        pid = os.fork()
        if pid == 0:
            _child(request, [reader, writer])
        writer.write(json.dumps({"pid": pid}) + "\n")
        writer.flush()
        _, status = os.waitpid(pid, 0)
        writer.write(json.dumps({"status": os.waitstatus_to_exitcode(status)}) + "\n")
        writer.flush()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
