"""One JVM per environment, reached through py4j, that never outlives its Python process.

ScienceWorld and TextWorldExpress are Scala simulators with a `PythonInterface` class. Their own
Python wrappers start a JVM with no heap cap, leave it to `__del__` to stop it, and fail with a
py4j stack trace when Java is missing. `JavaSimulator` fixes those three things:

- the heap is capped (`-Xmx`, serial GC), configurable per env and by `TEXTGYM_JAVA_OPTS`;
- the JVM is started with py4j's `--die-on-broken-pipe`, so it exits as soon as the pipe to its
  parent closes, which the kernel does even when the parent is killed with SIGKILL; it runs in its
  own process group, so a Ctrl-C meant for Python does not kill it mid-step;
- a missing `java` raises `JavaNotFoundError` saying what to install, and a JVM that died raises
  `SimulatorCrashedError` with its exit code and last stderr lines instead of a socket error.
"""

from __future__ import annotations

import ast
import contextlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import weakref
from collections.abc import Iterator
from typing import Any

from py4j.java_gateway import GatewayParameters, JavaGateway, launch_gateway
from py4j.protocol import Py4JError

DEFAULT_HEAP = "512m"
JAVA_OPTS_VARIABLE = "TEXTGYM_JAVA_OPTS"
_HEAP_PATTERN = re.compile(r"[1-9][0-9]*[kKmMgG]?")
_MIN_HEAP_BYTES = 64 * 2**20


class JavaNotFoundError(RuntimeError):
    """No `java` executable: the Java-backed simulators cannot start."""


class SimulatorCrashedError(RuntimeError):
    """The simulator's JVM died (killed, out of memory, ...). `reset()` starts a new one."""


def find_java() -> str:
    """Path of the `java` executable ($JAVA_HOME first, then $PATH), or a clear error."""
    java_home = os.environ.get("JAVA_HOME")
    candidates = [os.path.join(java_home, "bin", "java")] if java_home else []
    candidates.append(shutil.which("java") or "")
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise JavaNotFoundError(
        "ScienceWorld and TextWorldExpress run on a Java virtual machine, and no `java` executable "
        "was found (searched $JAVA_HOME/bin and $PATH). Install a Java runtime, version 11 or "
        "newer, e.g. `sudo apt-get install openjdk-17-jre-headless` (Debian/Ubuntu), "
        "`brew install openjdk@17` (macOS) or `conda install -c conda-forge openjdk=17`, "
        "or set JAVA_HOME to an existing installation."
    )


DETERMINISTIC_HASHES = ["-XX:+UnlockExperimentalVMOptions", "-XX:hashCode=2"]
"""Constant identity hash codes. Simulators that iterate hash sets of objects (ScienceWorld 1.2.x)
then list and update objects in insertion order instead of an order that changes from run to run."""


def check_heap(heap: object) -> str:
    """`heap` if it is a JVM heap size (`-Xmx` syntax) of at least 64 MB, else a `ValueError`.

    >>> check_heap("1g")
    '1g'
    >>> check_heap("lots")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: jvm_heap must be a size such as '512m' or '2g' (...), got 'lots'.
    """
    valid = isinstance(heap, str) and _HEAP_PATTERN.fullmatch(heap)
    if valid:
        scale = {"k": 2**10, "m": 2**20, "g": 2**30}.get(heap[-1].lower(), 1)
        valid = int(heap.rstrip("kKmMgG")) * scale >= _MIN_HEAP_BYTES
    if not valid:
        raise ValueError("jvm_heap must be a size such as '512m' or '2g' (a whole number with an optional "
                         f"k, m or g suffix, at least 64m), got {heap!r}.")
    return heap


def java_options(heap: str, extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """JVM flags: a capped heap, the serial collector (2 GC threads would fight the env), `extra`,
    then `$TEXTGYM_JAVA_OPTS`."""
    options = [f"-Xmx{heap}", "-XX:+UseSerialGC", *extra]
    return options + shlex.split(os.environ.get(JAVA_OPTS_VARIABLE, ""))


class JavaSimulator:
    """A JVM running `entry_class` (a simulator's PythonInterface), started on demand.

    Args:
        name: the simulator's name, for error messages.
        classpath: the simulator's jar.
        entry_class: dotted name of the class to instantiate in the JVM.
        heap: the JVM's maximum heap (`-Xmx`), e.g. "512m".
        cwd: working directory of the JVM (simulators read resources relative to it).
        options: more JVM flags (e.g. `DETERMINISTIC_HASHES`).
    """

    def __init__(self, name: str, classpath: str, entry_class: str, heap: str = DEFAULT_HEAP,
                 cwd: str | None = None, options: list[str] | tuple[str, ...] = ()) -> None:
        self.name = name
        self.classpath = classpath
        self.entry_class = entry_class
        self.heap = check_heap(heap)
        self.cwd = cwd
        self.options = tuple(options)
        self._gateway: JavaGateway | None = None
        self._process: subprocess.Popen | None = None
        self._server: Any = None
        self._stderr: Any = None  # a temporary file: the JVM writes its stderr there directly
        self._finalizer: weakref.finalize | None = None
        self._join: Any = None

    @contextlib.contextmanager
    def calls(self) -> Iterator[Any]:
        """The simulator's PythonInterface object; py4j failures of a dead JVM become
        `SimulatorCrashedError`.

            with simulator.calls() as server:
                observation = server.step("look around")
        """
        if self._server is None or not self.alive:
            raise SimulatorCrashedError(self._death_message())
        try:
            yield self._server
        except Py4JError as error:
            if self.alive:
                raise
            raise SimulatorCrashedError(self._death_message()) from error

    def joined(self, strings: Any, separator: str = "\n") -> str:
        """A Java collection of strings as one string, joined in the JVM: one round trip instead
        of one per element (py4j's `list(...)` of a 5k-command list takes seconds)."""
        return self._join(separator, strings)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start a fresh JVM (closing a dead or live previous one first)."""
        self.close()
        java = find_java()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - open while the JVM lives; close() closes it
        try:
            port, process = launch_gateway(
                classpath=self.classpath, javaopts=java_options(self.heap, self.options), java_path=java,
                die_on_exit=True, create_new_process_group=True, cwd=self.cwd,
                redirect_stderr=self._stderr, return_proc=True)
        except ValueError as error:  # py4j could not read a port: the JVM exited at start
            lines = [_first_stdout_line(error), self._stderr_tail()]
            raise SimulatorCrashedError(f"The {self.name} JVM failed to start: "
                                        + " | ".join(line for line in lines if line)) from None
        self._process = process
        self._gateway = JavaGateway(gateway_parameters=GatewayParameters(port=port, auto_field=True),
                                    java_process=process)
        self._finalizer = weakref.finalize(self, _shutdown, self._gateway, process)
        class_ = self._gateway.jvm
        for part in self.entry_class.split("."):
            class_ = getattr(class_, part)
        self._server = class_()
        self._join = self._gateway.jvm.java.lang.String.join  # looked up once: 2 round trips a call

    def close(self) -> None:
        """Stop the JVM. Safe to call any number of times."""
        if self._finalizer is not None:
            self._finalizer()
        self._finalizer = self._gateway = self._process = self._server = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _death_message(self) -> str:
        if self._process is None:
            return f"The {self.name} JVM is not running: call reset() to start it."
        message = (f"The {self.name} JVM (pid {self.pid}) exited with code {self._process.poll()}; "
                   "the episode is lost. Call reset() to start a new JVM.")
        if tail := self._stderr_tail():
            message += f" Its last output: {tail}"
        return message

    def _stderr_tail(self, lines: int = 20) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace")
        return " | ".join(line.strip() for line in text.splitlines()[-lines:] if line.strip())


def _first_stdout_line(error: ValueError) -> str:
    """The JVM's first stdout line, from py4j's "invalid literal for int() ...: b'...'" error."""
    _, _, literal = str(error).partition(": ")
    try:
        return ast.literal_eval(literal).decode(errors="replace").strip()
    except (ValueError, SyntaxError, AttributeError):
        return ""


def _shutdown(gateway: JavaGateway, process: subprocess.Popen) -> None:
    """Ask the JVM to stop, then make sure it did (py4j's shutdown alone can leave it running)."""
    with contextlib.suppress(Exception):  # the JVM may be gone already; stopping it is what matters
        gateway.shutdown()
    if process.poll() is None:
        try:
            process.stdin.close()  # --die-on-broken-pipe: EOF on stdin ends the JVM
            process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()


class JavaBacked:
    """Mixin for an env whose simulator is `self._simulator`: its JVM's `pid`, and `close()`."""

    _simulator: JavaSimulator

    @property
    def pid(self) -> int | None:
        """Process id of this env's JVM (None until the first reset)."""
        return self._simulator.pid

    def close(self) -> None:
        self._simulator.close()
